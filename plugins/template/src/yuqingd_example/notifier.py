"""``example-webhook``: posts each notification as JSON, signed with HMAC-SHA256 over
``timestamp + "." + body`` and carrying its id as ``Idempotency-Key`` (a retry or a repeat after
a crash has the same key, so the receiver can drop it)."""

from __future__ import annotations

import hashlib
import hmac
import json

import trio
from pydantic import BaseModel
from yuqingd.plugin_api import (
    STRICT,
    NonEmptyStr,
    Notification,
    NotifierContext,
    NotifierSpec,
    Secret,
)


class WebhookOptions(BaseModel):
    model_config = STRICT
    url: NonEmptyStr
    secret: Secret | None = None  # the signing key: {file: …} or {credential: …}


class WebhookError(Exception):
    pass


class WebhookNotifier:
    def __init__(self, spec: NotifierSpec):
        self.options: WebhookOptions = spec.options
        self.base_dir = spec.base_dir
        self.ctx: NotifierContext | None = None

    async def start(self, ctx: NotifierContext) -> None:
        self.ctx = ctx  # the shared client, the clock and the logger for every send
        ctx.log.info("example.webhook_ready", url=self.options.url)

    async def send(self, notification: Notification) -> None:
        assert self.ctx is not None, "start() is called before the first send"
        body = json.dumps(payload(notification), ensure_ascii=False).encode()
        timestamp = str(int(self.ctx.clock.time()))  # the daemon's clock, virtual in tests
        headers = {"Content-Type": "application/json", "X-Timestamp": timestamp,
                   "Idempotency-Key": notification.id}
        if self.options.secret is not None:
            key = self.options.secret.reveal(self.base_dir).encode()
            signed = timestamp.encode() + b"." + body
            headers["X-Signature"] = hmac.new(key, signed, hashlib.sha256).hexdigest()
        with trio.fail_after(self.ctx.timeout):
            response = await self.ctx.http.post(self.options.url, content=body, headers=headers)
        if response.status_code >= 300:  # raise: the core retries with back-off
            raise WebhookError(f"HTTP {response.status_code} from {self.options.url}")

    async def close(self) -> None:
        if self.ctx is not None:
            self.ctx.log.info("example.webhook_closed")


def payload(notification: Notification) -> dict:
    """A card for the receiver: structured fields, and the finished text as it is (it already
    lists the items, so they are not appended again)."""
    return {
        "id": notification.id,
        "kind": notification.kind,
        "title": notification.title,
        "severity": notification.severity,
        "level": notification.level,
        "at": notification.at,
        "to": [r.person for r in notification.to],
        "text": notification.text,
        "links": [item.get("url", "") for item in notification.items],
    }
