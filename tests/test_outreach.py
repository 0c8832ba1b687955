"""Outreach: recipients per channel, then the text, then the outbox; notifications carry
structured fields beside the Chinese text; a source silence is checked against the source
passed in."""

from __future__ import annotations

import trio

from yuqingd.config import Role
from yuqingd.events import Events
from yuqingd.model import Notification
from yuqingd.runtime.directory import Directory
from yuqingd.runtime.outreach import Addressed, Outreach
from yuqingd.runtime.silences import Silences
from yuqingd.store import open_store
from yuqingd.testing import Harness, running_daemon
from yuqingd.time.clock import Clock

MINUTE = 60
T0 = 1_778_378_400.0


async def test_an_incident_notification_carries_structured_fields(make_config, autojump_clock):
    """A card notifier gets the incident, its items (title, link, source, time), the ack
    deadline and the ack command without reading the text."""
    harness = Harness()
    async with running_daemon(make_config(), harness):
        for n in range(3):
            harness.post(f"neg-{n}", f"六处学校老师体罚学生 #{n}", "家长反映孩子被体罚")
        await trio.sleep(0.01)
    (opened,) = harness.sent
    assert (opened.kind, opened.title, opened.severity, opened.level, opened.key) == (
        "incident.opened", "涉校负面信息集中出现", "较大", 1, "六处学校")
    assert opened.incident.endswith("-001")
    assert [(i.title, i.source) for i in opened.items] == [
        (f"六处学校老师体罚学生 #{n}", "forum") for n in range(3)]
    assert all(i.url.startswith("https://") and i.at.endswith("+08:00") for i in opened.items)
    (due,) = opened.deadlines
    assert (due.kind, due.label) == ("ack", "确认")
    assert due.at == Clock("Asia/Shanghai").format(T0 + 15 * MINUTE)
    (action,) = opened.actions
    assert (action.name, action.command) == ("ack", f"yuqingd ack {opened.incident} --by 张明")
    assert action.command in opened.text  # the text says the same thing
    assert Notification.from_dict(opened.as_dict()) == opened


def test_an_outbox_payload_from_before_the_structured_fields_still_reads():
    """Notifications queued by an older yuqingd are delivered after an upgrade."""
    old = {"id": "x:incident.opened:L1:open:phone", "kind": "incident.opened",
           "channel": "phone", "incident": "20260510-001", "rule": "r", "title": "t",
           "severity": "较大", "level": 1, "to": [{"role": "值班员", "person": "张明"}],
           "at": "2026-05-10T10:00:00+08:00", "text": "【舆情事件】t",
           "items": [{"title": "帖子", "url": "https://forum.example/t/1"}]}
    notification = Notification.from_dict(old)
    assert notification.items[0]["title"] == "帖子"  # dict-era plugins keep working
    assert notification.items[0].url == "https://forum.example/t/1"
    assert (notification.deadlines, notification.actions, notification.key) == ((), (), "")


def _outreach(tmp_path) -> tuple[Outreach, Silences, list[dict]]:
    clock = Clock("Asia/Shanghai", start_epoch=T0)
    clock.start()
    store = open_store(tmp_path / "state.sqlite3")
    events = Events()
    seen: list[dict] = []
    events.subscribe(seen.append)
    silences = Silences(store, clock, events)
    outreach = Outreach(store, clock, events, silences)
    outreach.configure(Directory({
        "值班员": Role(person="张明", channels=["phone", "mail"]),
        "组长": Role(person="王强", channels=["phone"])}, None, clock.to_datetime))
    return outreach, silences, seen


async def test_recipients_are_resolved_per_channel_before_the_text_is_rendered(tmp_path,
                                                                           autojump_clock):
    outreach, _, seen = _outreach(tmp_path)
    rendered: list[Addressed] = []

    def render(target: Addressed) -> str:
        rendered.append(target)
        return f"致 {'、'.join(r.person for r in target.to)}"

    with outreach.store.transaction():
        written = outreach.send(kind="rule.notify", ident="r:k", roles=["值班员", "组长"],
                                channels=["file"], text=render, at=T0, tag="1", title="t",
                                rule="r", key="k")
    assert written == 3
    assert [(t.channel, [r.person for r in t.to]) for t in rendered] == [
        ("file", []), ("phone", ["张明", "王强"]), ("mail", ["张明"])]
    assert [(e["channel"], e["id"]) for e in seen if e["event"] == "notification"] == [
        ("file", "r:k:rule.notify:1:file"), ("phone", "r:k:rule.notify:1:phone"),
        ("mail", "r:k:rule.notify:1:mail")]
    payload = outreach.store.pending_outbox("phone", T0 + 1)[0].payload
    assert payload["text"] == "致 张明、王强"


async def test_a_source_silence_mutes_only_what_is_sent_for_that_source(tmp_path, autojump_clock):
    outreach, silences, seen = _outreach(tmp_path)
    silences.add("source", "forum", 3600, "演练", "张明", T0)
    with outreach.store.transaction():
        for n, source in enumerate(("forum", "weibo", None)):
            outreach.send(kind="rule.notify", ident=f"r:{n}", roles=["组长"], text="x", at=T0,
                          tag="1", title="t", rule="r", key="k", source=source)
    assert [e["event"] for e in seen if e["event"].startswith("notification")] == [
        "notification.silenced", "notification", "notification"]
    assert [row.id for row in outreach.store.pending_outbox("phone", T0 + 1)] == [
        "r:1:rule.notify:1:phone", "r:2:rule.notify:1:phone"]
