"""Fallback channels per person, one hand-over at a time: who moves, where to, with which
links, and what stays (yuqingd.delivery.fallback)."""

from __future__ import annotations

from yuqingd.config import Role
from yuqingd.delivery.fallback import Fallback
from yuqingd.model import Action, Notification, Recipient
from yuqingd.runtime.directory import Directory
from yuqingd.store import open_store
from yuqingd.web.links import Links

T0 = 1_800_000_000.0


def _directory() -> Directory:
    return Directory({
        "值班员": Role(person="张三", channels=["robot", "mail", "sms"], fallback_after="15m"),
        "带班领导": Role(person="刘伟", channels=["robot", "sms"], fallback_after="30m"),
        "组长": Role(person="李四", channels=["robot"])}, None, lambda at: None)  # type: ignore


def _queue(store, n: int, *people: tuple[str, str]) -> None:
    store.enqueue(f"n-{n}", "robot", Notification(
        id=f"n-{n}", kind="incident.opened", channel="robot", incident="INC-1", rule="r",
        title="t", severity="较大", level=1, to=tuple(Recipient(r, p) for r, p in people),
        at="", text="x", actions=tuple(Action("ack", "确认", "", url=f"https://old/{p}", person=p)
                                       for _, p in people)).as_dict(), T0)


def test_each_person_moves_when_their_own_time_comes_and_nobody_twice(tmp_path):
    """张三 (15m) moves to mail at minute 15, 刘伟 (30m) to sms at minute 30, 李四 (no
    fallback) stays on the robot; each copy names only its person and carries only their
    links, remade for the new channel."""
    store = open_store(tmp_path / "y.db")
    links = Links(b"k" * 32, "https://yq.example.org", 86400)
    fallback = Fallback(store)
    fallback.configure(_directory())
    fallback.links = links
    _queue(store, 1, ("值班员", "张三"), ("带班领导", "刘伟"), ("组长", "李四"))
    store.channel_failed("robot", T0)
    store.channel_failed("robot", T0 + 60)  # only the first failure since a success counts
    assert fallback.hand_over("robot", T0 + 899) == T0 + 900  # nobody yet: wake at 15m
    assert fallback.hand_over("robot", T0 + 900) == T0 + 1800  # 张三 moved; 刘伟 next
    (mail,) = store.undelivered_outbox("mail")
    assert (mail.id, mail.fallback_from, mail.created_at) == ("n-1>mail", "robot", T0)
    assert mail.payload["to"] == [{"role": "值班员", "person": "张三"}]
    (link,) = mail.payload["actions"]
    token = link["url"].rsplit("/", 1)[1]
    assert (links.check(token, T0 + 900).person, links.check(token, T0 + 900).channel) == (
        "张三", "mail")
    assert fallback.hand_over("robot", T0 + 1800) is None  # 刘伟 moved; nobody else waits
    (sms,) = store.undelivered_outbox("sms")
    assert sms.id == "n-1>sms" and [t["person"] for t in sms.payload["to"]] == ["刘伟"]
    (robot,) = store.undelivered_outbox("robot")
    assert [t["person"] for t in robot.payload["to"]] == ["李四"]
    assert [a["person"] for a in robot.payload["actions"]] == ["李四"]
    store.close()


def test_a_notification_nobody_stays_for_moves_itself_and_on_down_the_chain(tmp_path):
    """With only 张三 on it, the row itself moves (same id, its order kept); when mail fails
    for 15 minutes too, it moves on to sms; a channel that recovers stops the count."""
    store = open_store(tmp_path / "y.db")
    fallback = Fallback(store)
    fallback.configure(_directory())
    _queue(store, 1, ("值班员", "张三"))
    store.channel_failed("robot", T0)
    fallback.hand_over("robot", T0 + 900)
    assert store.undelivered_outbox("robot") == []
    (mail,) = store.undelivered_outbox("mail")
    assert (mail.id, mail.attempts, mail.fallback_from) == ("n-1", 0, "robot")
    store.channel_failed("mail", T0 + 1000)
    store.channel_recovered("mail")  # one success: the failing time starts again
    assert fallback.hand_over("mail", T0 + 2000) is None
    store.channel_failed("mail", T0 + 2000)
    fallback.hand_over("mail", T0 + 2900)
    (sms,) = store.undelivered_outbox("sms")
    assert (sms.id, sms.fallback_from) == ("n-1", "mail")
    store.channel_failed("sms", T0 + 2900)
    assert fallback.hand_over("sms", T0 + 9999) is None  # the end of the chain: it waits there
    assert [r.channel for r in store.undelivered_outbox("sms")] == ["sms"]
    moves = [(a.fields["channel"], a.fields["to_channel"]) for a in store.incident_audit("INC-1")
             if a.action == "notification.fallback"]
    assert moves == [("robot", "mail"), ("mail", "sms")]
    store.close()


class _CannotStart:
    async def start(self, ctx) -> None:
        raise OSError("secret file missing")

    async def send(self, notification: Notification) -> None:  # never reached
        raise AssertionError


class _Inbox:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification.id)


async def test_a_channel_that_cannot_even_start_hands_over_too(tmp_path, autojump_clock):
    """A robot whose start() keeps failing (a missing secret file) counts as failing: 张三's
    notification reaches him through mail 15 minutes later, and the robot is never sent to."""
    import httpx
    import trio

    from yuqingd.delivery.outbox import ChannelWorker, Delivery
    from yuqingd.notifiers import NotifierSpec
    from yuqingd.time.clock import Clock

    clock = Clock(start_epoch=T0)
    clock.start()
    store = open_store(tmp_path / "y.db")
    delivery = Delivery(store, clock)
    delivery.fallback.configure(_directory())
    inbox = _Inbox()
    delivery.workers = {
        "robot": ChannelWorker(NotifierSpec("robot", "x", None, tmp_path), _CannotStart(),
                               store, clock, 10, 300, http=httpx.AsyncClient(),
                               fallback=delivery.fallback),
        "mail": ChannelWorker(NotifierSpec("mail", "x", None, tmp_path), inbox, store, clock,
                              10, 300, fallback=delivery.fallback)}
    async with trio.open_nursery() as nursery:
        for worker in delivery.workers.values():
            await nursery.start(worker.run)
        _queue(store, 1, ("值班员", "张三"))
        delivery.wake()
        await trio.sleep(899)
        assert inbox.sent == []
        await trio.sleep(2)
        assert inbox.sent == ["n-1"]
        await delivery.drain()
    (row,) = store.incident_outbox("INC-1")
    assert (row.channel, row.fallback_from) == ("mail", "robot")
    assert row.delivered_at is not None and abs(row.delivered_at - (T0 + 900)) < 1e-6
    store.close()


async def test_after_a_long_stop_the_first_channel_is_tried_again_before_anyone_moves(
        tmp_path, autojump_clock):
    """The robot was failing when the daemon stopped; a day later it works again: the
    waiting notification goes through the robot, not the fallback, and the failing time ends."""
    import trio

    from yuqingd.delivery.outbox import ChannelWorker, Delivery
    from yuqingd.notifiers import NotifierSpec
    from yuqingd.time.clock import Clock

    clock = Clock(start_epoch=T0 + 86400)
    clock.start()
    store = open_store(tmp_path / "y.db")
    _queue(store, 1, ("值班员", "张三"))
    store.channel_failed("robot", T0)  # as the last run left it
    delivery = Delivery(store, clock)
    delivery.fallback.configure(_directory())
    robot, mail = _Inbox(), _Inbox()
    delivery.workers = {
        "robot": ChannelWorker(NotifierSpec("robot", "x", None, tmp_path), robot, store, clock,
                               10, 300, fallback=delivery.fallback),
        "mail": ChannelWorker(NotifierSpec("mail", "x", None, tmp_path), mail, store, clock,
                              10, 300, fallback=delivery.fallback)}
    async with trio.open_nursery() as nursery:
        for worker in delivery.workers.values():
            await nursery.start(worker.run)
        await trio.sleep(60)
        await delivery.drain()
    assert (robot.sent, mail.sent) == (["n-1"], [])
    assert store.channel_failing_since("robot") is None
    store.close()


def test_two_people_moving_to_one_channel_at_different_times_both_get_it(tmp_path):
    """张三 (15m) and 王芳 (30m) both fall back to mail while 李四 stays: each gets their
    own copy there, none is lost to the first one's id."""
    store = open_store(tmp_path / "y.db")
    fallback = Fallback(store)
    fallback.configure(Directory({
        "值班员": Role(person="张三", channels=["robot", "mail"], fallback_after="15m"),
        "副班": Role(person="王芳", channels=["robot", "mail"], fallback_after="30m"),
        "组长": Role(person="李四", channels=["robot"])}, None, lambda at: None))  # type: ignore
    _queue(store, 1, ("值班员", "张三"), ("副班", "王芳"), ("组长", "李四"))
    store.channel_failed("robot", T0)
    fallback.hand_over("robot", T0 + 900)
    fallback.hand_over("robot", T0 + 1800)
    assert [(r.id, [t["person"] for t in r.payload["to"]])
            for r in store.undelivered_outbox("mail")] == [
        ("n-1>mail", ["张三"]), ("n-1>mail:王芳", ["王芳"])]
    (robot,) = store.undelivered_outbox("robot")
    assert [t["person"] for t in robot.payload["to"]] == ["李四"]
    store.close()
