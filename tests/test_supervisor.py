"""One broken plugin never takes the daemon down (virtual time)."""

from __future__ import annotations

import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.schema_types import STRICT
from yuqingd.sources import SourceKind
from yuqingd.testing import Harness, running_daemon

TWO_SOURCES = """\
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
  - {{name: broken, kind: %s}}
notifiers:
  - {{name: duty-phone, kind: capture}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
supervisor: {{stall_after: 10m, max_backoff: 5m}}
delivery: {{timeout: 30s, max_backoff: 10m}}
"""


class NoOptions(BaseModel):
    model_config = STRICT


class BrokenPlugins:
    """Sources that raise or hang, counting how often the core starts them."""

    def __init__(self):
        self.starts = {"crashing": 0, "hanging": 0}

    @hookimpl
    def yuqingd_source_kinds(self):
        return [SourceKind("crashing", NoOptions, lambda spec: Crashing(self)),
                SourceKind("hanging", NoOptions, lambda spec: Hanging(self))]


class Crashing:
    def __init__(self, owner):
        self.owner = owner

    async def run(self, ctx):
        self.owner.starts["crashing"] += 1
        raise RuntimeError("parser exploded")


class Hanging:
    def __init__(self, owner):
        self.owner = owner

    async def run(self, ctx):
        self.owner.starts["hanging"] += 1
        await trio.sleep_forever()  # never emits, never heartbeats


def negative_burst(harness: Harness) -> None:
    for n in range(3):
        harness.post(f"n{n}", f"六处学校体罚学生 {n}")


async def test_supervisor_restarts_crashing_source_with_backoff(make_config, autojump_clock):
    """A source that raises is restarted after 2, 4, 8 … s while other sources keep working."""
    harness, broken = Harness(), BrokenPlugins()
    async with running_daemon(make_config(TWO_SOURCES % "crashing"), harness, broken) as daemon:
        await trio.sleep(2 + 4 + 8 + 0.5)
        assert broken.starts["crashing"] == 4
        health = daemon._sources.health["broken"]
        assert not health.healthy and "parser exploded" in health.last_error
        assert "parser exploded" in daemon.status_line()
        negative_burst(harness)
        await trio.sleep(0.01)
        assert harness.kinds() == [("incident.opened", 1)]
        await trio.sleep(3600)
        assert broken.starts["crashing"] < 20  # backoff capped at 5 minutes, not a hot loop


async def test_supervisor_restarts_stalled_source(make_config, autojump_clock):
    """A source silent for longer than stall_after is cancelled and started again."""
    harness, broken = Harness(), BrokenPlugins()
    async with running_daemon(make_config(TWO_SOURCES % "hanging"), harness, broken) as daemon:
        await trio.sleep(10 * 60 - 1)
        assert broken.starts["hanging"] == 1
        await trio.sleep(2 + 2)  # stall detected at 10 min, restart after a 2 s back-off
        assert broken.starts["hanging"] == 2
        assert "stalled" in daemon._sources.health["broken"].last_error
        negative_burst(harness)
        await trio.sleep(0.01)
        assert harness.kinds() == [("incident.opened", 1)]


async def test_failing_notifier_is_retried_until_delivered(make_config, autojump_clock):
    """A notifier that fails is retried with back-off; the alert arrives once it recovers."""
    harness = Harness()
    harness.failures_to_inject = 3
    async with running_daemon(make_config(), harness) as daemon:
        negative_burst(harness)
        await trio.sleep(0.01)
        assert harness.sent == [] and harness.send_attempts == 1
        await trio.sleep(2 + 4 + 8 + 0.01)  # retries at +2, +6, +14 s
        assert harness.send_attempts == 4
        assert harness.kinds() == [("incident.opened", 1)]
        assert daemon.store.undelivered_count() == 0


async def test_hanging_notifier_times_out_and_does_not_block_escalation(make_config,
                                                                        autojump_clock):
    """A send that never returns is cut off by the delivery timeout; escalation still runs."""
    harness = Harness()
    harness.hang = True
    async with running_daemon(make_config(), harness) as daemon:
        negative_burst(harness)
        await trio.sleep(31)
        assert harness.send_attempts == 1
        row = daemon.store.db.execute("SELECT attempts, last_error FROM outbox").fetchone()
        assert row["attempts"] == 1 and "timed out" in row["last_error"]
        harness.hang = False
        await trio.sleep(15 * 60)
        assert harness.kinds() == [("incident.opened", 1), ("incident.escalated", 2)]
