"""The webhook and group-robot notifiers against stand-in services on 127.0.0.1 that check
the signatures the way DingTalk, WeCom and Feishu do and answer with their real error shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse

import httpx
import pytest
import trio
from yuqingd_robots import yuqingd_notifier_kinds

from yuqingd.delivery.outbox import ChannelWorker
from yuqingd.health import Health
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierSpec, RetryAfter
from yuqingd.store import open_store
from yuqingd.time.clock import Clock

SECRET = "SEC0123456789abcdef"
KINDS = {k.name: k for k in yuqingd_notifier_kinds()}


def notification(n: int = 1, *, url: str = "") -> Notification:
    return Notification(
        id=f"n-{n}", kind="incident.opened", channel="robot", incident=f"INC-{n}",
        rule="负面舆情", title="某中学食堂问题引发关注", severity="高", level=2,
        to=(Recipient("值班员", "张三"),), at="2026-12-04T01:00:00+00:00",
        text="新舆情", items=(NotifiedItem("食堂饭菜变质", "https://example.org/a/1", "微博"),),
        deadlines=(Due("ack", "确认", "2026-12-04T02:00:00+00:00"),),
        actions=(Action("ack", "确认", "yuqingd ack INC-1", url=url,
                        person="张三" if url else ""),),
        key="某中学")


def make(kind: str, tmp_path, **options):
    (tmp_path / "secret").write_text(SECRET + "\n")
    (tmp_path / "token").write_text("TOKEN1\n")
    spec = NotifierSpec("robot", kind, KINDS[kind].options.model_validate(options), tmp_path)
    return KINDS[kind].create(spec)


async def started(notifier, health: Health | None = None):
    http = httpx.AsyncClient()
    await notifier.start(NotifierContext("robot", http=http, clock=Clock(), health=health))
    return notifier


def dingtalk_checks(request: httpx.Request) -> httpx.Response:
    """As DingTalk: recompute the sign from timestamp and secret; 310000 when it differs."""
    query = urllib.parse.parse_qs(request.url.query.decode())  # decodes the sign once
    if query.get("access_token") != ["TOKEN1"]:
        return httpx.Response(200, json={"errcode": 300001, "errmsg": "token is not exist"})
    timestamp = query["timestamp"][0]
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    if query["sign"] != [expected]:
        return httpx.Response(200, json={"errcode": 310000, "errmsg": "sign not match"})
    return httpx.Response(200, json={"errcode": 0, "errmsg": "ok"})


async def test_dingtalk_signs_once_encoded_and_sends_the_markdown_card(loopback_server, tmp_path):
    loopback_server.route("POST", "/robot/send", handler=dingtalk_checks)
    robot = await started(make("dingtalk", tmp_path, token={"file": "token"},
                               secret={"file": "secret"}, base_url=loopback_server.url("/")))
    await robot.send(notification(url="https://yq.example.org/a/ack?sig=x"))
    body = loopback_server.json_bodies()[0]
    assert body["msgtype"] == "markdown"
    text = body["markdown"]["text"]
    assert "【新舆情】某中学食堂问题引发关注" in body["markdown"]["title"]
    assert "**关注对象**：某中学" in text
    assert "[食堂饭菜变质](https://example.org/a/1)（微博）" in text
    assert "**确认截止**：2026-12-04 10:00（UTC+08:00）" in text
    assert "[确认（张三）](https://yq.example.org/a/ack?sig=x)" in text


async def test_dingtalk_bad_secret_is_a_configuration_error(loopback_server, tmp_path):
    loopback_server.route("POST", "/robot/send", handler=dingtalk_checks)
    robot = make("dingtalk", tmp_path, token={"file": "token"}, secret={"file": "secret"},
                 base_url=loopback_server.url("/"))
    (tmp_path / "secret").write_text("wrong")
    health = Health()
    await started(robot, health)
    with pytest.raises(DeliveryRejected, match="310000"):
        await robot.send(notification())
    assert health.plugin_state == "failing" and "签名" in (health.message or "")


async def test_dingtalk_too_fast_waits_the_ten_minutes_dingtalk_blocks(loopback_server, tmp_path):
    """130101 (more than 20 a minute): DingTalk throttles the robot for 10 minutes."""
    loopback_server.route("POST", "/robot/send", status=200, json={
        "errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"})
    robot = await started(make("dingtalk", tmp_path, token={"file": "token"},
                               base_url=loopback_server.url("/")))
    with pytest.raises(RetryAfter) as waited:
        await robot.send(notification())
    assert waited.value.seconds == 600


async def test_feishu_bad_request_is_rejected_and_rate_limit_waits(loopback_server, tmp_path):
    """9499 (Bad Request) will never succeed by waiting: failing; 11232 waits a minute."""
    answers = [{"code": 9499, "msg": "Bad Request", "data": {}},
               {"code": 11232, "msg": "frequency limited", "data": {}}]
    loopback_server.route("POST", "/open-apis/bot/v2/hook/TOKEN1",
                          handler=lambda request: httpx.Response(200, json=answers.pop(0)))
    health = Health()
    robot = await started(make("feishu", tmp_path, token={"file": "token"},
                               base_url=loopback_server.url("/")), health)
    with pytest.raises(DeliveryRejected, match="9499"):
        await robot.send(notification())
    assert health.plugin_state == "failing"
    with pytest.raises(RetryAfter) as waited:
        await robot.send(notification())
    assert waited.value.seconds == 60


async def test_wecom_rate_limit_waits_and_bad_key_is_rejected(loopback_server, tmp_path):
    def wecom(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("key") != "TOKEN1":
            return httpx.Response(200, json={"errcode": 93000,
                                             "errmsg": "invalid webhook url"})
        return httpx.Response(200, json={"errcode": 45009, "errmsg": "api freq out of limit"})

    loopback_server.route("POST", "/cgi-bin/webhook/send", handler=wecom)
    robot = await started(make("wecom", tmp_path, token={"file": "token"},
                               base_url=loopback_server.url("/")))
    with pytest.raises(RetryAfter) as waited:
        await robot.send(notification())
    assert waited.value.seconds == 60
    assert loopback_server.json_bodies()[0]["markdown"]["content"].startswith("### 【新舆情】")
    (tmp_path / "token").write_text("wrong")
    with pytest.raises(DeliveryRejected, match="93000"):
        await robot.send(notification())


async def test_feishu_signs_the_body_and_reports_sign_mismatch(loopback_server, tmp_path):
    def feishu(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        string = f"{body['timestamp']}\n{SECRET}".encode()
        expected = base64.b64encode(hmac.new(string, b"", hashlib.sha256).digest()).decode()
        if body["sign"] != expected:
            return httpx.Response(200, json={"code": 19021, "msg": "sign match fail",
                                             "data": {}})
        return httpx.Response(200, json={"code": 0, "msg": "success", "data": {}})

    loopback_server.route("POST", "/open-apis/bot/v2/hook/TOKEN1", handler=feishu)
    robot = await started(make("feishu", tmp_path, token={"file": "token"},
                               secret={"file": "secret"}, base_url=loopback_server.url("/")))
    await robot.send(notification())
    card = loopback_server.json_bodies()[0]["card"]
    assert card["header"]["title"]["content"] == "【新舆情】某中学食堂问题引发关注"
    (tmp_path / "secret").write_text("wrong")
    with pytest.raises(DeliveryRejected, match="19021"):
        await robot.send(notification())


async def test_webhook_signature_and_idempotency_key(loopback_server, tmp_path):
    seen: set[str] = set()

    def receiver(request: httpx.Request) -> httpx.Response:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.content,
                                        hashlib.sha256).hexdigest()
        if request.headers["X-Yuqingd-Signature"] != expected:
            return httpx.Response(401)
        seen.add(request.headers["Idempotency-Key"])
        return httpx.Response(204)

    loopback_server.route("POST", "/hook", handler=receiver)
    hook = await started(make("webhook", tmp_path, url=loopback_server.url("/hook"),
                              secret={"file": "secret"}))
    await hook.send(notification(1))
    await hook.send(notification(1))  # a retry after a crash: the same key
    assert seen == {"n-1"}
    body = json.loads(loopback_server.requests[0].content)
    assert body.pop("card")["title"] == "【新舆情】某中学食堂问题引发关注"
    assert body == notification(1).as_dict()
    (tmp_path / "secret").write_text("wrong")
    with pytest.raises(DeliveryRejected):
        await hook.send(notification(2))


class Refusing:
    """Refuses with the given exceptions in turn, then accepts; records what it accepted."""

    def __init__(self, *errors: Exception):
        self.errors = list(errors)
        self.sent: list[str] = []

    async def send(self, n: Notification) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent.append(n.id)


async def test_outbox_waits_as_told_keeps_order_and_marks_config_errors_failing(
        tmp_path, autojump_clock):
    store = open_store(tmp_path / "y.db")
    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    for n in (1, 2, 3):
        store.enqueue(f"n-{n}", "robot", notification(n).as_dict(), clock.time())
    notifier = Refusing(RetryAfter(60), DeliveryRejected("钉钉机器人拒收（310000）"))
    worker = ChannelWorker(NotifierSpec("robot", "x", None, tmp_path), notifier, store, clock,
                           timeout=10, max_backoff=600)
    assert await worker.deliver_due() == 0  # rate limited: nothing else tried before the wait
    assert worker.last_error is None  # asked to wait: not a failure
    assert store.next_retry("robot") == pytest.approx(clock.time() + 60)
    store_retry = store.next_retry("robot")
    assert store_retry is not None
    await trio.sleep_until(clock.trio_deadline(store_retry))
    assert await worker.deliver_due() == 0
    assert worker.health.plugin_state == "failing"
    assert store.next_retry("robot") == pytest.approx(clock.time() + 600)
    await trio.sleep(600)
    assert await worker.deliver_due() == 3
    assert notifier.sent == ["n-1", "n-2", "n-3"]
    assert worker.health.plugin_state == "ok"
    store.close()


class Recording:
    rate_per_minute = 3

    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, n: Notification) -> None:
        self.sent.append(n)


async def test_a_burst_past_the_rate_limit_goes_as_one_digest_nothing_dropped(
        tmp_path, autojump_clock):
    store = open_store(tmp_path / "y.db")
    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    notifier = Recording()
    worker = ChannelWorker(NotifierSpec("robot", "x", None, tmp_path), notifier, store, clock,
                           timeout=10, max_backoff=600)
    for n in (1, 2):
        store.enqueue(f"n-{n}", "robot", notification(n).as_dict(), clock.time())
    assert await worker.deliver_due() == 2  # within the limit: one by one
    for n in range(3, 9):
        store.enqueue(f"n-{n}", "robot", notification(n).as_dict(), clock.time())
    assert await worker.deliver_due() == 6  # 6 waiting, 1 send left: one digest
    assert [n.id for n in notifier.sent] == ["n-1", "n-2", "digest:n-3+5"]
    digest = notifier.sent[-1]
    assert digest.text.startswith("【汇总】6 条通知")
    assert [i.title for i in digest.items] == ["食堂饭菜变质"] * 6
    store.enqueue("n-9", "robot", notification(9).as_dict(), clock.time())
    assert await worker.deliver_due() == 0  # the minute's budget is spent: it waits
    assert store.undelivered_count() == 1
    await trio.sleep(61)
    assert await worker.deliver_due() == 1
    assert notifier.sent[-1].id == "n-9"
    store.close()


class DownForAnHour:
    """A robot that refuses connections until ``up_at``; records what it accepted."""

    def __init__(self, clock: Clock, up_at: float):
        self.clock, self.up_at = clock, up_at
        self.sent: list[str] = []

    async def send(self, n: Notification) -> None:
        if self.clock.time() < self.up_at:
            raise httpx.ConnectError("connection refused")
        self.sent.append(n.id)


async def test_a_robot_down_for_an_hour_gets_everything_after_in_order_once(
        tmp_path, autojump_clock):
    store = open_store(tmp_path / "y.db")
    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    robot = DownForAnHour(clock, clock.time() + 3600)
    worker = ChannelWorker(NotifierSpec("robot", "x", None, tmp_path), robot, store, clock,
                           timeout=10, max_backoff=300)
    async with trio.open_nursery() as nursery:
        await nursery.start(worker.run)
        for n in range(1, 13):  # one every five minutes while it is down
            store.enqueue(f"n-{n:02}", "robot", notification(n).as_dict(), clock.time())
            worker.wakeup.set()
            await trio.sleep(300)
        await trio.sleep(3600)
        worker.stop()
    assert robot.sent == [f"n-{n}" for n in range(1, 13)]  # in order, each once
    assert store.undelivered_count() == 0
    store.close()


def _signed_receiver(received: list[Notification]):
    """A webhook receiver on the far side of the fallback: checks the HMAC like the docs say,
    drops a repeated idempotency key, records what it accepted."""
    keys: set[str] = set()

    def receive(request: httpx.Request) -> httpx.Response:
        expected = "sha256=" + hmac.new(SECRET.encode(), request.content,
                                        hashlib.sha256).hexdigest()
        if request.headers.get("X-Yuqingd-Signature") != expected:
            return httpx.Response(401)
        if request.headers["Idempotency-Key"] not in keys:
            keys.add(request.headers["Idempotency-Key"])
            body = json.loads(request.content)
            assert body.pop("card")["title"]  # the rendered message rides beside the fields
            received.append(Notification.from_dict(body))
        return httpx.Response(204)

    return receive


async def test_a_robot_down_for_an_hour_hands_a_person_over_to_their_fallback_channel(
        tmp_path, autojump_clock):
    """张三 is reached by the robot, then the webhook once the robot has failed for 15 minutes
    (fallback_after: 15m); 李四 has only the robot. Down for an hour, with a restart at minute
    11: 张三 gets every notification once through the webhook (the first three at minute 15,
    later ones at once), 李四 every one once through the robot after it is back, both in
    order; the outbox and the audit say which channel reached whom."""
    from yuqingd.config import Role
    from yuqingd.delivery.outbox import Delivery
    from yuqingd.reports.audit import note_text
    from yuqingd.runtime.directory import Directory

    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    t0 = clock.time()
    directory = Directory({
        "值班员": Role(person="张三", channels=["robot", "hook"], fallback_after="15m"),
        "组长": Role(person="李四", channels=["robot"])}, None, clock.to_datetime)
    robot = DownForAnHour(clock, t0 + 3600)
    received: list[Notification] = []
    http = httpx.AsyncClient(transport=httpx.MockTransport(_signed_receiver(received)))

    def wired(store) -> Delivery:
        delivery = Delivery(store, clock)
        delivery.fallback.configure(directory)
        hook = make("webhook", tmp_path, url="https://hook.example.org/in",
                    secret={"file": "secret"})
        delivery.workers = {
            "robot": ChannelWorker(NotifierSpec("robot", "dingtalk", None, tmp_path), robot,
                                   store, clock, timeout=10, max_backoff=300,
                                   fallback=delivery.fallback),
            "hook": ChannelWorker(NotifierSpec("hook", "webhook", None, tmp_path), hook, store,
                                  clock, timeout=10, max_backoff=300, http=http,
                                  fallback=delivery.fallback)}
        return delivery

    def queue(store, n: int) -> None:
        to = (Recipient("值班员", "张三"), Recipient("组长", "李四"))
        acts = (Action("ack", "确认", "", url=f"https://yq.example.org/a/{n}/zs", person="张三"),
                Action("ack", "确认", "", url=f"https://yq.example.org/a/{n}/ls", person="李四"))
        payload = Notification.from_dict({**notification(n).as_dict(), "id": f"n-{n:02}",
                                          "incident": "INC-1"})
        from dataclasses import replace
        store.enqueue(f"n-{n:02}", "robot",
                      replace(payload, to=to, actions=acts).as_dict(), clock.time())

    db = tmp_path / "y.db"
    store = open_store(db)
    delivery = wired(store)
    async with trio.open_nursery() as nursery:
        for worker in delivery.workers.values():
            await nursery.start(worker.run)
        for n in (1, 2, 3):  # minutes 0, 5, 10
            queue(store, n)
            delivery.wake()
            await trio.sleep(300 if n < 3 else 60)
        await delivery.drain()  # the daemon stops at minute 11…
    assert received == [] and robot.sent == []
    store.close()

    store = open_store(db)  # …and starts again: the failing time is read from the store
    delivery = wired(store)
    async with trio.open_nursery() as nursery:
        for worker in delivery.workers.values():
            await nursery.start(worker.run)
        await trio.sleep_until(clock.trio_deadline(t0 + 900))
        for n in range(4, 13):  # minutes 15 … 55, while the robot is still down
            queue(store, n)
            delivery.wake()
            await trio.sleep(300)
        await trio.sleep(3600)
        await delivery.drain()

    assert [n.id for n in received] == [f"n-{n:02}>hook" for n in range(1, 13)]
    assert all(n.to == (Recipient("值班员", "张三"),) for n in received)
    assert all([a.person for a in n.actions] == ["张三"] for n in received)  # only his link
    assert robot.sent == [f"n-{n:02}" for n in range(1, 13)]  # 李四's, after, in order, once
    assert store.undelivered_count() == 0
    rows = store.incident_outbox("INC-1")
    hook_rows = [r for r in rows if r.channel == "hook"]
    assert len(hook_rows) == 12 and all(
        r.fallback_from == "robot" and r.delivered_at is not None for r in hook_rows)
    assert hook_rows[0].delivered_at == pytest.approx(t0 + 900)  # taken over at minute 15
    assert hook_rows[-1].delivered_at == pytest.approx(t0 + 55 * 60)  # later ones at once
    assert all(r.payload["to"] == [{"role": "组长", "person": "李四"}]
               for r in rows if r.channel == "robot")
    moves = [a for a in store.incident_audit("INC-1") if a.action == "notification.fallback"]
    assert len(moves) == 12 and moves[0].at == pytest.approx(t0 + 900)
    assert note_text(moves[0].action, moves[0].fields).endswith(
        "张三 经 robot 发送失败已15分钟，改经 hook 发送")
    store.close()


async def test_a_configured_lower_rate_limit_turns_a_burst_into_a_digest(
        make_config, tmp_path, autojump_clock):
    """``rate_limit: 2/min`` on a channel whose notifier declares 20 a minute: five waiting
    notifications go as one digest, the next one waits for the minute to pass."""
    from yuqingd.config import load_config
    from yuqingd.plugins import Plugins, get_plugin_manager
    from yuqingd.schema_types import Rate
    from yuqingd.testing import Harness

    path = make_config(notifiers=[{"name": "duty-phone", "kind": "capture",
                                   "rate_limit": "2/min"}])
    (spec,) = load_config(path, Plugins(get_plugin_manager(extra=(Harness(),)))).notifiers
    assert spec.rate == Rate(2, 60.0)
    store = open_store(tmp_path / "y.db")
    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    notifier = Recording()
    notifier.rate_per_minute = 20  # what a robot declares; the config's lower limit wins
    worker = ChannelWorker(spec, notifier, store, clock, timeout=10, max_backoff=600)
    for n in range(1, 6):
        store.enqueue(f"n-{n}", "duty-phone", notification(n).as_dict(), clock.time())
    assert await worker.deliver_due() == 5
    assert [n.id for n in notifier.sent] == ["digest:n-1+4"]
    assert notifier.sent[0].text.startswith("【汇总】5 条通知")
    store.enqueue("n-6", "duty-phone", notification(6).as_dict(), clock.time())
    assert await worker.deliver_due() == 1  # one send of the minute left: sent alone
    store.enqueue("n-7", "duty-phone", notification(7).as_dict(), clock.time())
    assert await worker.deliver_due() == 0  # the minute's two are spent: it waits
    await trio.sleep(60)
    assert await worker.deliver_due() == 1
    assert [n.id for n in notifier.sent] == ["digest:n-1+4", "n-6", "n-7"]
    assert store.undelivered_count() == 0
    store.close()
