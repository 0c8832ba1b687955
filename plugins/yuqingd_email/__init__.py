"""E-mail notifier: one message per notification over SMTP (STARTTLS, SSL or plain on a
trusted relay), with a plain-text and an HTML part and the Chinese subject encoded per RFC 2047.

``smtplib`` runs in a worker thread (``trio.to_thread``): aiosmtplib is asyncio-only. The
``Message-ID`` is derived from the notification id, so a repeat after a crash is recognisable
by mail clients and archives. Authentication and recipient refusals are configuration errors
(``DeliveryRejected``); 4xx answers and connection errors are retried with back-off.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, make_msgid
from pathlib import Path
from typing import Literal

import trio

from yuqingd import hookimpl
from yuqingd.cards import card
from yuqingd.cards.custom import CardOptions, ChannelTexts
from yuqingd.model import Notification
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT, NonEmptyStr
from yuqingd.secrets import Secret

__version__ = "0.1.0"


class EmailOptions(CardOptions):  # lang, templates
    model_config = STRICT
    host: NonEmptyStr
    port: int = 587
    security: Literal["starttls", "ssl", "none"] = "starttls"  # none: only a local relay
    # A CA bundle (PEM) for a server whose certificate is from an internal CA: the system's
    # CAs otherwise. The certificate is always verified, host name included.
    tls_ca: str | None = None
    username: str = ""
    password: Secret | None = None
    sender: NonEmptyStr  # From: address
    sender_name: str = "舆情监测"
    to: list[NonEmptyStr]


class EmailNotifier:
    def __init__(self, spec: NotifierSpec):
        self.options: EmailOptions = spec.options
        self.base_dir: Path = spec.base_dir
        self.ctx: NotifierContext | None = None
        self.texts = ChannelTexts(self.options, self.base_dir)

    async def start(self, ctx: NotifierContext) -> None:
        self.ctx = ctx

    def message(self, n: Notification) -> EmailMessage:
        o = self.options
        zone = self.ctx.clock.tz if self.ctx is not None else None
        shown = card(n, lang=o.lang, zone=zone, texts=self.texts.get())
        msg = EmailMessage(policy=SMTP)
        msg["Subject"] = shown.title  # the SMTP policy encodes it (=?utf-8?b?…?=)
        msg["From"] = formataddr((o.sender_name, o.sender))
        msg["To"] = ", ".join(o.to)
        domain = o.sender.rpartition("@")[2] or None
        msg["Message-ID"] = make_msgid(idstring=n.id.replace("@", "."), domain=domain)
        msg.set_content(shown.text())
        msg.add_alternative(f'<html><body lang="{"zh-CN" if o.lang == "zh" else "en"}">\n'
                            f"{shown.html()}</body></html>\n", subtype="html")
        return msg

    async def send(self, notification: Notification) -> None:
        assert self.ctx is not None
        msg = self.message(notification)
        password = self.options.password.reveal(self.base_dir) if self.options.password else ""
        try:
            await trio.to_thread.run_sync(self._deliver, msg, password, self.ctx.timeout)
        except ssl.SSLCertVerificationError as exc:
            # Retrying cannot make the certificate right: someone must (or name the CA).
            message = (f"邮件服务器证书校验失败（{exc.verify_message}）：请检查 host，"
                       "内部 CA 签发的证书请用 tls_ca 指定 CA 文件。")
            self.ctx.set_health("failing", message)
            raise DeliveryRejected(message) from exc
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPRecipientsRefused,
                smtplib.SMTPSenderRefused) as exc:
            code = getattr(exc, "smtp_code", "")
            message = f"邮件服务器拒收（{code or type(exc).__name__}）：请检查账号、密码与收件人。"
            self.ctx.set_health("failing", message)
            raise DeliveryRejected(message) from exc
        self.ctx.set_health("ok")

    def _deliver(self, msg: EmailMessage, password: str, timeout: float) -> None:
        o = self.options
        ca = o.tls_ca and str(self.base_dir / o.tls_ca)  # relative to the config's folder
        context = ssl.create_default_context(cafile=ca or None)
        smtp: smtplib.SMTP
        if o.security == "ssl":
            smtp = smtplib.SMTP_SSL(o.host, o.port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(o.host, o.port, timeout=timeout)
        with smtp:
            if o.security == "starttls":
                smtp.starttls(context=context)
            if o.username:
                smtp.ehlo_or_helo_if_needed()
                if "PLAIN" in smtp.esmtp_features.get("auth", "").upper().split():
                    # one mechanism: a refusal is answered, not followed by a second attempt
                    smtp.user, smtp.password = o.username, password
                    smtp.auth("PLAIN", smtp.auth_plain)
                else:
                    smtp.login(o.username, password)
            smtp.send_message(msg)


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [NotifierKind("email", EmailOptions, EmailNotifier,
                         "SMTP e-mail (STARTTLS/SSL), plain text and HTML")]
