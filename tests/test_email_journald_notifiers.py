"""The email notifier against a real SMTP server on 127.0.0.1 (aiosmtpd), and the journald
notifier's entry fields."""

from __future__ import annotations

import email
import socket
import ssl
import subprocess
from email.header import decode_header, make_header
from email.policy import default

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from yuqingd_email import EmailNotifier, EmailOptions
from yuqingd_journald import JournaldNotifier, JournaldOptions

from yuqingd.health import Health
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierSpec
from yuqingd.time.clock import Clock

PASSWORD = "mail-pw-123"


def notification() -> Notification:
    return Notification(
        id="n-7", kind="incident.escalated", channel="mail", incident="INC-7", rule="负面舆情",
        title="某小学校车超载", severity="高", level=3, to=(Recipient("带班领导", "刘伟"),),
        at="2026-12-04T01:00:00+00:00", text="【舆情升级】某小学校车超载\n请尽快处理",
        items=(NotifiedItem("校车超载视频", "https://example.org/v/1", "抖音"),),
        deadlines=(Due("first_report", "首报", "2026-12-04T03:00:00+00:00"),),
        actions=(Action("ack", "确认", "yuqingd ack INC-7", url="https://yq.example.org/a/x",
                        person="刘伟"),),
        key="某小学")


class Inbox:
    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.raw: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.raw.append(envelope.original_content)
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


def free_port() -> int:  # aiosmtpd's Controller cannot take port 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=authenticator, auth_require_tls=False)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


async def mailer(tmp_path, port: int, health: Health | None = None) -> EmailNotifier:
    (tmp_path / "smtp.pw").write_text(PASSWORD + "\n")
    options = EmailOptions.model_validate({
        "host": "127.0.0.1", "port": port, "security": "none", "username": "yuqingd",
        "password": {"file": "smtp.pw"}, "sender": "yuqingd@edu.example.org",
        "to": ["duty@edu.example.org"]})
    notifier = EmailNotifier(NotifierSpec("mail", "email", options, tmp_path))
    await notifier.start(NotifierContext("mail", http=httpx.AsyncClient(), clock=Clock(),
                                         health=health))
    return notifier


async def test_email_arrives_with_both_parts_and_the_chinese_subject(smtp_server, tmp_path):
    controller, inbox = smtp_server
    notifier = await mailer(tmp_path, controller.port)
    await notifier.send(notification())
    (msg,) = inbox.messages
    assert str(make_header(decode_header(msg["Subject"]))) == "【舆情升级】某小学校车超载"
    assert b"Subject: =?utf-8?" in inbox.raw[0]  # RFC 2047 on the wire, not raw UTF-8
    plain = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    assert "已升级至第 3 级" in plain and "确认（刘伟）：https://yq.example.org/a/x" in plain
    assert '<a href="https://example.org/v/1">校车超载视频</a>' in page
    assert "2026-12-04 11:00（UTC+08:00）" in page


async def test_email_wrong_password_is_a_configuration_error(smtp_server, tmp_path):
    controller, inbox = smtp_server
    health = Health()
    notifier = await mailer(tmp_path, controller.port, health)
    (tmp_path / "smtp.pw").write_text("wrong")
    with pytest.raises(DeliveryRejected):
        await notifier.send(notification())
    assert health.plugin_state == "failing" and inbox.messages == []


def self_signed(folder) -> tuple[str, str]:
    """A certificate for 127.0.0.1 from its own private CA (as an office's internal CA)."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def tls_smtp_servers(tmp_path):
    """One server that needs STARTTLS (587-style) and one that speaks TLS from the first byte
    (465-style), both with the same internal-CA certificate and the password check."""
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox = Inbox()
    starttls = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                          require_starttls=True, authenticator=authenticator)
    # aiosmtpd offers AUTH only on a session it upgraded itself; this one is TLS throughout.
    implicit = Controller(inbox, hostname="127.0.0.1", port=free_port(), ssl_context=context,
                          authenticator=authenticator, auth_require_tls=False)
    starttls.start()
    implicit.start()
    try:
        yield starttls.port, implicit.port, inbox
    finally:
        starttls.stop()
        implicit.stop()


async def tls_mailer(tmp_path, port: int, security: str, ca: str | None,
                     health: Health | None = None) -> EmailNotifier:
    (tmp_path / "smtp.pw").write_text(PASSWORD + "\n")
    options = EmailOptions.model_validate({
        "host": "127.0.0.1", "port": port, "security": security, "username": "yuqingd",
        "password": {"file": "smtp.pw"}, "sender": "yuqingd@edu.example.org",
        "to": ["duty@edu.example.org"], **({"tls_ca": ca} if ca else {})})
    notifier = EmailNotifier(NotifierSpec("mail", "email", options, tmp_path))
    await notifier.start(NotifierContext("mail", http=httpx.AsyncClient(), clock=Clock(),
                                         health=health))
    return notifier


async def test_email_over_starttls_and_ssl_with_an_internal_ca(tls_smtp_servers, tmp_path):
    starttls, implicit, inbox = tls_smtp_servers
    for port, security in ((starttls, "starttls"), (implicit, "ssl")):
        notifier = await tls_mailer(tmp_path, port, security, "smtp-cert.pem")
        await notifier.send(notification())
    assert [str(make_header(decode_header(m["Subject"]))) for m in inbox.messages] == [
        "【舆情升级】某小学校车超载"] * 2


async def test_email_certificate_not_trusted_is_a_configuration_error(tls_smtp_servers,
                                                                       tmp_path):
    """Without tls_ca the internal CA is unknown: refused, not retried, and nothing sent —
    the password never goes over an unverified connection."""
    starttls, _, inbox = tls_smtp_servers
    health = Health()
    notifier = await tls_mailer(tmp_path, starttls, "starttls", None, health)
    with pytest.raises(DeliveryRejected) as rejected:
        await notifier.send(notification())
    assert "证书校验失败" in str(rejected.value) and "tls_ca" in str(rejected.value)
    assert health.plugin_state == "failing" and inbox.messages == []


async def test_journald_entry_has_the_fields_and_priority():
    entries = []
    notifier = JournaldNotifier(NotifierSpec("journal", "journald", JournaldOptions(), None),
                                send=lambda text, **fields: entries.append((text, fields)))
    await notifier.send(notification())
    ((text, fields),) = entries
    assert text.startswith("【舆情升级】")
    assert fields["INCIDENT"] == "INC-7" and fields["LEVEL"] == "3"
    assert fields["KIND"] == "incident.escalated" and fields["NOTIFICATION_ID"] == "n-7"
    assert fields["PRIORITY"] == "3"


class _DownRobot:
    async def send(self, n: Notification) -> None:
        raise httpx.ConnectError("connection refused")


async def test_mail_takes_over_once_the_robot_has_failed_for_fifteen_minutes(
        smtp_server, tmp_path, mock_clock):
    """刘伟 is reached by the robot, then by e-mail (fallback_after: 15m): nothing is mailed
    at minute 10, the notification arrives in the SMTP server at minute 15, and the outbox
    and the audit say e-mail reached him, moved from the robot. (Virtual time stands still
    while the real SMTP exchange runs in its thread.)"""
    from yuqingd.config import Role
    from yuqingd.delivery.outbox import ChannelWorker, Delivery
    from yuqingd.reports.audit import note_text
    from yuqingd.runtime.directory import Directory
    from yuqingd.store import open_store

    controller, inbox = smtp_server
    clock = Clock(start_epoch=1_800_000_000.0)
    clock.start()
    t0 = clock.time()
    store = open_store(tmp_path / "y.db")
    delivery = Delivery(store, clock)
    delivery.fallback.configure(Directory({"带班领导": Role(
        person="刘伟", channels=["robot", "mail"], fallback_after="15m")}, None,
        clock.to_datetime))
    robot = ChannelWorker(NotifierSpec("robot", "dingtalk", None, tmp_path), _DownRobot(),
                          store, clock, timeout=10, max_backoff=300, fallback=delivery.fallback)
    mail = ChannelWorker(NotifierSpec("mail", "email", None, tmp_path),
                         await mailer(tmp_path, controller.port), store, clock, timeout=10,
                         max_backoff=300, fallback=delivery.fallback)
    queued = notification()
    store.enqueue(queued.id, "robot", {**queued.as_dict(), "channel": "robot"}, clock.time())
    assert await robot.deliver_due() == 0  # refused: the robot has been failing since now
    mock_clock.jump(600)
    assert await robot.deliver_due() == 0
    assert await mail.deliver_due() == 0 and inbox.messages == []
    mock_clock.jump(300)  # minute 15
    assert await robot.deliver_due() == 0  # handed over before trying the robot again
    assert await mail.deliver_due() == 1
    (msg,) = inbox.messages
    assert str(make_header(decode_header(msg["Subject"]))) == "【舆情升级】某小学校车超载"
    (row,) = store.incident_outbox("INC-7")
    assert (row.id, row.channel, row.fallback_from) == ("n-7", "mail", "robot")
    assert row.delivered_at == t0 + 900
    (moved,) = [a for a in store.incident_audit("INC-7") if a.action == "notification.fallback"]
    assert note_text(moved.action, moved.fields) == (
        "第3级升级通知：刘伟 经 robot 发送失败已15分钟，改经 mail 发送")
    store.close()
