"""apprise notifier (optional, ``pip install 'yuqingd[apprise]'``): the long tail of services
apprise knows — Telegram, Slack, ntfy, Gotify, Matrix, SMS gateways… — from one URL each.

The built-in robots (dingtalk, wecom, feishu) and email stay the main path: apprise is blocking
(it runs here in a worker thread, ``trio.to_thread``), its endpoints are fixed per service, and
its DingTalk signature is URL-encoded twice (DingTalk answers 310000), so use it for what yuqingd
has no notifier of its own. The URLs carry the services' tokens: they are a :data:`Secret`, one
URL per line of a file or credential (``#`` comments allowed), never written to a log.

A URL apprise does not recognise is a configuration error (``DeliveryRejected``, shown by its
scheme only); a failed send is retried with the outbox's back-off.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import trio
from pydantic import model_validator

from yuqingd import hookimpl
from yuqingd.cards import card
from yuqingd.cards.custom import CardOptions, ChannelTexts
from yuqingd.model import Notification
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierKind, NotifierSpec
from yuqingd.schema_types import STRICT
from yuqingd.secrets import Secret

__version__ = "0.1.0"


class AppriseOptions(CardOptions):  # lang, templates
    model_config = STRICT
    urls: Secret  # e.g. {file: apprise.urls} — one apprise URL per line

    @model_validator(mode="after")
    def _installed(self) -> AppriseOptions:
        if importlib.util.find_spec("apprise") is None:
            raise ValueError("需要安装 apprise：pip install 'yuqingd[apprise]'")
        return self


def _urls(text: str) -> list[str]:
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


class AppriseNotifier:
    def __init__(self, spec: NotifierSpec):
        self.options: AppriseOptions = spec.options
        self.base_dir: Path = spec.base_dir
        self.ctx: NotifierContext | None = None
        self.texts = ChannelTexts(self.options, self.base_dir)

    async def start(self, ctx: NotifierContext) -> None:
        self.ctx = ctx

    async def send(self, notification: Notification) -> None:
        assert self.ctx is not None
        zone = self.ctx.clock.tz
        shown = card(notification, lang=self.options.lang, zone=zone, texts=self.texts.get())
        urls = _urls(self.options.urls.reveal(self.base_dir))
        try:
            sent = await trio.to_thread.run_sync(self._deliver, urls, shown.title,
                                                 shown.markdown(heading=False))
        except DeliveryRejected as exc:
            self.ctx.set_health("failing", str(exc))
            raise
        if not sent:
            self.ctx.set_health("degraded", "apprise 未能送达（将按退避重试）")
            raise RuntimeError("apprise: no service accepted the notification")
        self.ctx.set_health("ok")

    def _deliver(self, urls: list[str], title: str, body: str) -> bool:
        """In a worker thread: apprise blocks (requests, smtplib)."""
        import apprise  # optional: imported where it is used

        sender = apprise.Apprise()
        for url in urls:
            if not sender.add(url):
                scheme = url.partition("://")[0] or "?"
                raise DeliveryRejected(f"apprise 无法识别地址（{scheme}://…）："
                                       "请检查 urls 中的这一行")
        if not urls:
            raise DeliveryRejected("apprise 的 urls 中没有地址")
        return bool(sender.notify(body=body, title=title,
                                  body_format=apprise.NotifyFormat.MARKDOWN))


@hookimpl
def yuqingd_notifier_kinds() -> list[NotifierKind]:
    return [NotifierKind("apprise", AppriseOptions, AppriseNotifier,
                         "apprise URLs (optional extra): Telegram, Slack, ntfy, Gotify, …")]
