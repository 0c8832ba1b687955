"""/metrics: what a Prometheus scrape sees change as items, notifications and deadlines happen."""

from __future__ import annotations

import httpx
import trio
import trio.testing
from prometheus_client.parser import text_string_to_metric_families

from yuqingd import hookimpl
from yuqingd.sources import SourceKind
from yuqingd.testing import Harness, ScriptedOptions, running_daemon, write_config

from .test_http_links import opened, settle


class BrokenSource:
    async def run(self, ctx) -> None:
        raise ConnectionError("论坛无法访问")


class BrokenKind:
    @hookimpl
    def yuqingd_source_kinds(self) -> list[SourceKind]:
        return [SourceKind("broken", ScriptedOptions, lambda spec: BrokenSource())]


async def scrape(client: httpx.AsyncClient, daemon) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics, by (name, sorted labels)."""
    reply = await client.get(f"{daemon.http_server.bound[0]}/metrics")
    assert reply.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(reply.text) for s in family.samples}


def config(tmp_path, short_dir, **extra):
    return write_config(tmp_path, short_dir, http={"listen": "127.0.0.1:0"}, **extra)


async def test_metrics_count_items_notifications_and_latency(tmp_path, short_dir, mock_clock):
    """Three stored items count for their source and in the pipeline latency histogram; the
    alert counts as delivered on its channel; a failed send as failed, and the outbox's oldest
    row ages while it waits."""
    harness = Harness()
    async with running_daemon(config(tmp_path, short_dir), harness) as daemon, \
            httpx.AsyncClient() as client:
        before = await scrape(client, daemon)
        assert before.get(("yuqingd_items_total", (("source", "forum"),)), 0) == 0
        await opened(harness, daemon)
        after = await scrape(client, daemon)
        assert after[("yuqingd_items_total", (("source", "forum"),))] == 3
        assert after[("yuqingd_pipeline_latency_seconds_count", ())] == 3
        delivered = ("yuqingd_notifications_total",
                     (("channel", "duty-phone"), ("outcome", "delivered")))
        assert after[delivered] == 1
        assert after[("yuqingd_outbox_oldest_age_seconds", ())] == 0

        harness.failures_to_inject = 1
        mock_clock.jump(15 * 60)  # the ack deadline passes: level 2 is told, the send fails
        await trio.testing.wait_all_tasks_blocked()
        failing = await scrape(client, daemon)
        failed = ("yuqingd_notifications_total", (("channel", "duty-phone"), ("outcome", "failed")))
        assert failing[failed] == 1 and failing[delivered] == 1
        assert failing[("yuqingd_outbox_depth", ())] == 1
        mock_clock.jump(1.5)  # less than the first retry's back-off (2 s): still waiting
        await trio.testing.wait_all_tasks_blocked()
        waiting = await scrape(client, daemon)
        assert waiting[("yuqingd_outbox_oldest_age_seconds", ())] == 1.5
        mock_clock.jump(60)
        await settle(harness, 2)
        done = await scrape(client, daemon)
        assert done[delivered] == 2 and done[("yuqingd_outbox_depth", ())] == 0


async def test_metrics_count_deadlines_met_and_missed(tmp_path, short_dir, mock_clock):
    """A missed acknowledgement counts as missed; acknowledging in time at the next level
    counts as met."""
    harness = Harness()
    async with running_daemon(config(tmp_path, short_dir), harness) as daemon, \
            httpx.AsyncClient() as client:
        note = await opened(harness, daemon)
        missed = ("yuqingd_deadlines_total", (("kind", "ack"), ("outcome", "missed")))
        met = ("yuqingd_deadlines_total", (("kind", "ack"), ("outcome", "met")))
        assert (await scrape(client, daemon)).get(missed, 0) == 0
        mock_clock.jump(15 * 60)
        await settle(harness, 2)
        assert (await scrape(client, daemon))[missed] == 1
        reply = await daemon.handle({"command": "ack", "incident": note.incident, "by": "李华"})
        assert reply["ok"], reply
        counts = await scrape(client, daemon)
        assert counts[missed] == 1 and counts[met] == 1


async def test_metrics_count_source_errors(tmp_path, short_dir, mock_clock):
    """A source that fails counts one error per failure, for that source."""
    path = config(tmp_path, short_dir, sources=[{"name": "forum", "kind": "scripted"},
                                                 {"name": "bbs", "kind": "broken"}])
    async with running_daemon(path, Harness(), BrokenKind()) as daemon, \
            httpx.AsyncClient() as client:
        await trio.testing.wait_all_tasks_blocked()
        errors = ("yuqingd_source_errors_total", (("source", "bbs"), ("what", "failed")))
        first = await scrape(client, daemon)
        assert first[errors] == 1
        assert first[("yuqingd_source_healthy", (("source", "bbs"),))] == 0
        mock_clock.jump(600)  # past the back-off: it is restarted and fails again
        await trio.testing.wait_all_tasks_blocked()
        assert (await scrape(client, daemon))[errors] >= 2


async def test_metrics_loop_lag_is_measured(tmp_path, short_dir, mock_clock):
    """The loop-lag histogram gets a sample every second the daemon runs."""
    async with running_daemon(config(tmp_path, short_dir), Harness()) as daemon, \
            httpx.AsyncClient() as client:
        # Five virtual seconds: at least three samples (one CI run saw a jump land before the
        # sampler had slept again, so one second gave no sample; the count is a lower bound).
        for _ in range(5):
            mock_clock.jump(1)
            await trio.testing.wait_all_tasks_blocked()
        counts = await scrape(client, daemon)
    assert counts[("yuqingd_loop_lag_seconds_count", ())] >= 3
    assert counts[("yuqingd_loop_lag_seconds_sum", ())] == 0  # virtual time: never late
