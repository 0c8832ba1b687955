"""Webhook: the structured notification (``Notification.as_dict()``) as a JSON POST, with
``card`` beside it: the rendered message (``lang``, ``title``, ``markdown``, ``text``) from the
same templates the robots and e-mail use, for a receiver that just forwards it.

Headers: ``Idempotency-Key`` is the notification id (the same on every retry, so the receiver
drops repeats); ``X-Yuqingd-Signature`` is ``sha256=<hex>``, the lowercase hex HMAC-SHA256 of
the exact body bytes keyed by the shared secret (sent only when ``secret`` is set). Any 2xx is
delivered; 429 waits (``Retry-After``); 401/403/404/410 are configuration errors.
"""

from __future__ import annotations

import json
from pathlib import Path

from yuqingd.cards import card
from yuqingd.cards.custom import CardOptions, ChannelTexts
from yuqingd.model import Notification
from yuqingd.notifiers import DeliveryRejected, NotifierContext, NotifierSpec, RetryAfter
from yuqingd.schema_types import STRICT, NonEmptyStr
from yuqingd.secrets import Secret

from .signing import webhook_signature

CONFIG_STATUSES = (401, 403, 404, 410)


class WebhookOptions(CardOptions):  # lang, templates: the body's ``card``
    model_config = STRICT
    url: NonEmptyStr
    secret: Secret | None = None


class Webhook:
    def __init__(self, spec: NotifierSpec):
        self.options: WebhookOptions = spec.options
        self.base_dir: Path = spec.base_dir
        self.ctx: NotifierContext | None = None
        self.texts = ChannelTexts(self.options, self.base_dir)

    async def start(self, ctx: NotifierContext) -> None:
        self.ctx = ctx

    async def send(self, notification: Notification) -> None:
        assert self.ctx is not None
        shown = card(notification, lang=self.options.lang, zone=self.ctx.clock.tz,
                     texts=self.texts.get())
        payload = {**notification.as_dict(),
                   "card": {"lang": shown.lang, "title": shown.title,
                            "markdown": shown.markdown(), "text": shown.text()}}
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": notification.id}
        if self.options.secret is not None:
            headers["X-Yuqingd-Signature"] = webhook_signature(
                body, self.options.secret.reveal(self.base_dir))
        response = await self.ctx.http.post(self.options.url, content=body, headers=headers,
                                            timeout=self.ctx.timeout)
        if response.status_code == 429:
            try:
                wait = float(response.headers.get("Retry-After", 60))
            except ValueError:
                wait = 60.0
            raise RetryAfter(wait, "webhook: HTTP 429")
        if response.status_code in CONFIG_STATUSES:
            message = (f"webhook 拒收（HTTP {response.status_code}）：请检查地址与共享密钥。")
            self.ctx.set_health("failing", message)
            raise DeliveryRejected(message)
        response.raise_for_status()
        self.ctx.set_health("ok")
