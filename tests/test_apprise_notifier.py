"""The optional apprise notifier against a real receiver on 127.0.0.1: apprise's json:// service
posts the card; a failed send is retried (not rejected); an unknown URL is a configuration error
and the URLs (they hold tokens) come from a file."""

from __future__ import annotations

import httpx
import pytest
from yuqingd_apprise import AppriseNotifier, AppriseOptions

from yuqingd.health import Health
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierSpec
from yuqingd.testing_http import LoopbackServer
from yuqingd.time.clock import Clock


def notification() -> Notification:
    return Notification(
        id="n-9", kind="incident.opened", channel="phone", incident="20261204-001", rule="涉校负面",
        title="六处学校体罚学生", severity="较大", level=1, to=(Recipient("值班员", "赵丽"),),
        at="2026-12-04T10:00:00+08:00", text="【舆情事件】六处学校体罚学生",
        items=(NotifiedItem("六处学校老师体罚学生", "https://tieba.example/p/1002", "贴吧"),),
        deadlines=(Due("ack", "确认", "2026-12-04T10:20:00+08:00"),),
        actions=(Action("ack", "确认", "yuqingd ack 20261204-001 --by 赵丽"),), key="六处学校")


@pytest.fixture
def receiver():
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


async def notifier(tmp_path, urls: str, health: Health) -> AppriseNotifier:
    (tmp_path / "apprise.urls").write_text(urls, encoding="utf-8")
    options = AppriseOptions.model_validate({"urls": {"file": "apprise.urls"}})
    made = AppriseNotifier(NotifierSpec("phone", "apprise", options, tmp_path))
    await made.start(NotifierContext("phone", http=httpx.AsyncClient(), clock=Clock(),
                                     health=health))
    return made


async def test_the_card_reaches_an_apprise_service(tmp_path, receiver):
    receiver.route("POST", "/hook", json={"ok": True})
    url = receiver.url("hook").replace("http://", "json://")
    health = Health(kind="apprise")
    sender = await notifier(tmp_path, f"# the duty phone's ntfy, as json:// here\n{url}\n", health)
    await sender.send(notification())
    (body,) = receiver.json_bodies()
    assert body["title"] == "【新舆情】六处学校体罚学生" and "较大" in body["message"]
    assert "https://tieba.example/p/1002" in body["message"]
    assert "2026-12-04 10:20（UTC+08:00）" in body["message"]
    assert health.plugin_state == "ok"


async def test_a_refused_send_is_retried_not_rejected(tmp_path, receiver):
    receiver.route("POST", "/hook", status=503)
    health = Health(kind="apprise")
    sender = await notifier(tmp_path, receiver.url("hook").replace("http://", "json://"), health)
    with pytest.raises(RuntimeError) as raised:
        await sender.send(notification())
    assert not isinstance(raised.value, DeliveryRejected)
    assert health.plugin_state == "degraded"


async def test_an_unknown_url_is_a_configuration_error_without_its_token(tmp_path):
    health = Health(kind="apprise")
    sender = await notifier(tmp_path, "nosuchservice://secret-token@host\n", health)
    with pytest.raises(DeliveryRejected) as rejected:
        await sender.send(notification())
    assert "nosuchservice://…" in str(rejected.value) and "secret-token" not in str(rejected.value)
    assert health.plugin_state == "failing"
