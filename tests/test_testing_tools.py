"""The test tools yuqingd ships to plugin authors (yuqingd.testing, the pytest11 fixtures)."""

from __future__ import annotations

import httpx
import pytest
import trio
import yaml
from yuqingd_rss import yuqingd_source_kinds as rss_kinds

from yuqingd.config import load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.testing import (
    START_EPOCH,
    Harness,
    make_notification,
    run_notifier,
    run_source,
    running_daemon,
)

FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>t</title><link>https://news.example/</link><description>d
</description>
<item><title>second</title><guid>n2</guid><pubDate>Sun, 10 May 2026 10:00:00 +0800</pubDate></item>
<item><title>first</title><guid>n1</guid><pubDate>Sun, 10 May 2026 09:00:00 +0800</pubDate></item>
</channel></rss>"""


async def test_run_source_builds_a_kind_from_options_and_runs_it_on_virtual_time(
        http_mock, autojump_clock):
    """run_source(kind, options=…) validates options like the config does, gives the source a
    context (shared client, clock, budget), and stops after N items or `until` seconds."""
    http_mock.route("GET", "https://news.example/feed.xml", content=FEED,
                    headers={"ETag": '"v1"'})
    rss = rss_kinds()[0]
    run = await run_source(rss, options={"url": "https://news.example/feed.xml",
                                         "interval": "1h"},
                           http=http_mock.client, name="新闻", until=3 * 3600 + 60)
    assert run.unique_ids == ["n1", "n2"] and {i.source for i in run.items} == {"新闻"}
    assert len(run.ids) == 8  # no 304 from this mock: each poll re-emits, the store dedupes
    assert run.committed_cursor() == '{"etag": "\\"v1\\""}'
    assert len(http_mock.requests) == 4  # polls at 0, 1h, 2h, 3h of virtual time
    assert http_mock.requests[1].headers["If-None-Match"] == '"v1"'
    assert run.health.next_poll_at == START_EPOCH + 4 * 3600


async def test_run_source_stops_after_the_items_asked_for(http_mock, autojump_clock):
    http_mock.route("GET", "/feed.xml", content=FEED)
    run = await run_source(rss_kinds()[0], options={"url": "https://any.example/feed.xml"},
                           http=http_mock.client, items=1)
    assert run.ids == ["n1"] and not run.returned


async def test_http_mock_answers_in_order_and_the_last_repeats(http_mock):
    http_mock.route("POST", "https://hook.example/send", status=503)
    http_mock.route("POST", "https://hook.example/send", json={"ok": True})
    codes = [(await http_mock.client.post("https://hook.example/send", json={"n": n})).status_code
             for n in range(3)]
    assert codes == [503, 200, 200]
    assert http_mock.json_bodies() == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert (await http_mock.client.get("https://hook.example/other")).status_code == 404


async def test_loopback_server_serves_routes_on_127_0_0_1(loopback_server):
    """A real socket: the same routes, requests recorded with their bodies."""
    loopback_server.route("GET", "/posts", json={"posts": [{"id": 1}]})
    loopback_server.route("POST", "/hook", handler=lambda r: httpx.Response(
        201, json={"echo": r.headers["X-Sign"]}))
    assert loopback_server.url("/posts").startswith("http://127.0.0.1:")
    async with httpx.AsyncClient(trust_env=False) as client:
        got = await client.get(loopback_server.url("/posts"), params={"since": "0"})
        posted = await client.post(loopback_server.url("hook"), json={"a": "中文"},
                                   headers={"X-Sign": "abc"})
    assert got.json() == {"posts": [{"id": 1}]}
    assert posted.status_code == 201 and posted.json() == {"echo": "abc"}
    assert loopback_server.json_bodies() == [{"a": "中文"}]
    assert loopback_server.requests[0].url.params["since"] == "0"


class ClockedNotifier:
    def __init__(self):
        self.log = []

    async def start(self, ctx):
        self.ctx = ctx

    async def send(self, notification):
        await trio.sleep(90)  # a slow API, on virtual time
        if notification.level == 2:
            raise ConnectionError("refused")
        self.log.append((notification.id, self.ctx.clock.format(self.ctx.clock.time())))

    async def close(self):
        self.log.append(("closed", self.ctx.clock.time()))


async def test_run_notifier_starts_sends_and_closes_on_the_test_clock(http_mock, autojump_clock):
    notifier = ClockedNotifier()
    run = await run_notifier(notifier, [make_notification(), make_notification(id="x", level=2),
                                        make_notification(id="y")],
                             http=http_mock.client, raise_errors=False, send_timeout=120)
    assert [n.id for n in run.delivered] == [make_notification().id, "y"]
    assert [(n.id, str(e)) for n, e in run.errors] == [("x", "refused")]
    assert notifier.log[0][1] == "2026-05-10T10:01:30+08:00"
    assert notifier.log[-1] == ("closed", START_EPOCH + 270)
    with pytest.raises(trio.TooSlowError):
        await run_notifier(ClockedNotifier(), [make_notification()], http=http_mock.client,
                           send_timeout=60)


def test_make_notification_is_a_valid_notification():
    n = make_notification(to=[("值班员", "张明"), ("组长", "王强")])
    assert [r.person for r in n.to] == ["张明", "王强"]
    assert n.as_dict()["items"][0]["url"].startswith("https://")


def test_make_config_replaces_sections_and_keys(make_config, short_dir):
    """make_config(sources=…, notifiers=…, key=…) keeps the roles and rules of the default."""
    path = make_config(sources=[{"name": "news", "kind": "rss",
                                 "url": "https://news.example/feed.xml"}],
                       supervisor={"stall_after": "10m"})
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["sources"] == [{"name": "news", "kind": "rss",
                                "url": "https://news.example/feed.xml"}]
    assert data["notifiers"] == [{"name": "duty-phone", "kind": "capture"}]
    assert data["control_socket"] == str(short_dir / "control.sock")
    assert len(str(short_dir / "control.sock")) < 107
    config = load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    assert config.file.supervisor.stall_after == 600


async def test_running_daemon_takes_the_http_client(make_config, http_mock, autojump_clock):
    """running_daemon(http=…) gives sources the mock client; captured notifications arrive."""
    feed = b"""<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>
<link>https://n.example/</link><description>d</description>""" + b"".join(
        f"<item><title>六处学校老师体罚学生 {n}</title><guid>g{n}</guid></item>".encode()
        for n in range(3)) + b"</channel></rss>"
    http_mock.route("GET", "https://n.example/feed.xml", content=feed)
    harness = Harness()
    config = make_config(sources=[{"name": "news", "kind": "rss",
                                   "url": "https://n.example/feed.xml"}])
    async with running_daemon(config, harness, http=http_mock.client):
        await trio.sleep(1)
    assert harness.kinds() == [("incident.opened", 1)]
    assert harness.sent[0].channel == "duty-phone"
