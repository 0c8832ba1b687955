"""A whole daemon with this plugin (found through its entry point, as when installed), on
virtual time: posts from the JSON API open an incident that the webhook delivers."""

from __future__ import annotations

import trio
from yuqingd.testing import START_EPOCH, daemon_status, running_daemon

API = "https://api.example/posts"
HOOK = "https://hook.example/send"


def posts(*titles: str) -> dict:
    return {"posts": [{"id": str(n), "title": t, "created_at": int(START_EPOCH * 1000)}
                      for n, t in enumerate(titles, 1)][::-1]}


async def test_daemon_runs_the_source_and_the_notifier(make_config, http_mock, autojump_clock):
    titles = ("六处学校老师体罚学生", "六处学校体罚事件续", "六处学校隐瞒情况")
    http_mock.route("GET", API, json=posts(*titles))
    http_mock.route("POST", HOOK, json={"ok": True})
    config = make_config(
        sources=[{"name": "bbs", "kind": "example-json", "url": API, "interval": "1h"}],
        notifiers=[{"name": "duty-phone", "kind": "example-webhook", "url": HOOK}],
        supervisor={"stall_after": "10m"},
    )
    async with running_daemon(config, http=http_mock.client) as daemon:
        await trio.sleep(5 * 3600)  # five polls, each longer than stall_after apart
        health = await daemon_status(daemon)
    sent = http_mock.json_bodies()  # opened, then escalated level by level (nobody acks)
    assert sent[0]["kind"] == "incident.opened" and sent[0]["to"] == ["张明"]
    assert [n["level"] for n in sent[:3]] == [1, 2, 3]
    assert len([r for r in http_mock.requests if r.method == "GET"]) == 6  # 0h … 5h
    [bbs] = health["sources"]
    assert bbs["state"] == "ok" and bbs["restarts"] == 0
    assert health["notifiers"][0]["delivered"] == len(sent)
