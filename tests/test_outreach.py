"""Outreach: recipients per channel, then the text, then the outbox; notifications carry
structured fields beside the Chinese text; a source silence is checked against the source
passed in."""

from __future__ import annotations

import trio

from yuqingd import hookimpl
from yuqingd.commands.incidents import _delivery_line
from yuqingd.config import Role
from yuqingd.events import Events
from yuqingd.model import Notification
from yuqingd.notifiers import NotifierKind
from yuqingd.reports.audit import note_text
from yuqingd.runtime.directory import Directory
from yuqingd.runtime.outreach import Addressed, Outreach
from yuqingd.runtime.silences import Silences
from yuqingd.store import open_store
from yuqingd.testing import CaptureOptions, Harness, running_daemon
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


async def test_a_person_with_fallback_after_is_addressed_on_their_first_channel_only(
        tmp_path, autojump_clock):
    """``fallback_after`` makes ``channels`` a chain: new notifications go to the first one
    (the delivery moves them on); without it every channel is used, as before."""
    outreach, _, _ = _outreach(tmp_path)
    outreach.configure(Directory({
        "值班员": Role(person="张明", channels=["phone", "mail"], fallback_after="15m"),
        "组长": Role(person="王强", channels=["phone", "mail"])}, None, outreach.clock.to_datetime))
    addressed = outreach.address(roles=["值班员", "组长"], at=T0)
    assert [(a.channel, [r.person for r in a.to]) for a in addressed] == [
        ("phone", ["张明", "王强"]), ("mail", ["王强"])]
    assert outreach.directory.fallback("张明") == (("phone", "mail"), 900.0)
    assert outreach.directory.fallback("王强") is None


class _Down:
    """A robot that never answers."""

    async def send(self, notification: Notification) -> None:
        raise ConnectionError("connection refused")


class _DownPlugin:
    @hookimpl
    def yuqingd_notifier_kinds(self) -> list[NotifierKind]:
        return [NotifierKind("down", CaptureOptions, lambda spec: _Down())]


async def test_the_incident_record_says_which_channel_reached_the_duty_officer(
        make_config, autojump_clock):
    """The duty officer's robot is down: 5 minutes after its first failure the incident's
    notification goes to their next channel, and ``yuqingd incident`` says it was delivered
    there, moved from the robot, with the move in the timeline."""
    harness = Harness()
    path = make_config(notifiers=[{"name": "robot", "kind": "down"},
                                  {"name": "duty-phone", "kind": "capture"}],
                       roles={"值班员": {"person": "张明", "channels": ["robot", "duty-phone"],
                                         "fallback_after": "5m"},
                              "办公室主任": {"person": "李华", "channels": ["duty-phone"]},
                              "组长": {"person": "王强", "channels": ["duty-phone"]}})
    async with running_daemon(path, harness, _DownPlugin()) as daemon:
        for n in range(3):
            harness.post(f"neg-{n}", f"六处学校老师体罚学生 #{n}", "家长反映孩子被体罚")
        await trio.sleep(4 * MINUTE)
        assert harness.sent == []  # still trying the robot
        await trio.sleep(2 * MINUTE)
        (opened,) = harness.sent
        assert (opened.kind, opened.channel, [r.person for r in opened.to]) == (
            "incident.opened", "duty-phone", ["张明"])
        reply = await daemon.handle({"command": "incident", "incident": opened.incident})
    (delivery,) = [d for d in reply["deliveries"] if d["kind"] == "incident.opened"]
    assert (delivery["channel"], delivery["fallback_from"], delivery["to"]) == (
        "duty-phone", "robot", ["张明"])
    assert delivery["delivered_at"] == Clock("Asia/Shanghai").format(T0 + 5 * MINUTE)
    assert _delivery_line(delivery).endswith(
        f"经 duty-phone → 张明  已送达 {delivery['delivered_at']}（由 robot 转来）")
    (moved,) = [t for t in reply["transitions"] if t["action"] == "notification.fallback"]
    assert note_text(moved["action"], moved["fields"]) == (
        "第1级事件生成通知：张明 经 robot 发送失败已5分钟，改经 duty-phone 发送")
