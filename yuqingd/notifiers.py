"""What a notifier plugin provides and what it gets from the core."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pydantic
import structlog

from yuqingd.health import Health
from yuqingd.model import Notification
from yuqingd.schema_types import Rate
from yuqingd.time.clock import Clock


class DeliveryRejected(Exception):
    """Raised by ``send`` when the receiving service refused the message for a reason a retry
    cannot fix (a wrong robot token or signing secret, an invalid webhook URL). The message
    should be Chinese: the core shows it as the channel's health (``failing``) and retries only
    after ``delivery.max_backoff``, so a corrected secret file is picked up without a flood of
    doomed requests. The notification stays in the outbox: nothing is dropped."""


class RetryAfter(Exception):
    """Raised by ``send`` when the service asks to slow down (HTTP 429, a robot's rate-limit
    code): the core retries after ``seconds`` without counting it as the channel failing."""

    def __init__(self, seconds: float, message: str = ""):
        super().__init__(message or f"rate limited, retry in {seconds:g}s")
        self.seconds = seconds


class Notifier(Protocol):
    """``send`` is required. A notifier may also define ``async def start(self, ctx)``, called
    once with its :class:`NotifierContext` before the first send (raising there counts as a
    failed delivery and is retried with back-off), and ``async def close(self)``, called once
    when the notifier is retired (reload, shutdown), shielded and bounded by
    ``delivery.timeout``."""

    async def send(self, notification: Notification) -> None:
        """Deliver one notification. Raise on failure: the core retries with back-off.
        ``notification.id`` is stable across retries; use it to avoid delivering twice."""


class NotifierContext:
    """Handed to ``Notifier.start``: what the core shares with a notifier (parallel to
    :class:`~yuqingd.sources.SourceContext`)."""

    def __init__(
        self,
        name: str,
        *,
        http: httpx.AsyncClient,
        clock: Clock,
        timeout: float = 30.0,
        log: Any = None,
        health: Health | None = None,
        state_dir: Path | None = None,
    ):
        self.name = name
        self.http = http  # shared with every plugin: do not close it
        self.clock = clock  # clock.time(), clock.now(): never time.time()
        self.timeout = timeout  # delivery.timeout: one send() is cut off after this long
        self.log = log if log is not None else structlog.get_logger("yuqingd.notifier").bind(
            channel=name)
        self._health = health if health is not None else Health()
        # The daemon's state folder (writable, kept across restarts), for a notifier's own
        # small files such as what it has already delivered; None in tests and simulations.
        self.state_dir = state_dir

    def set_health(self, state: str, message: str | None = None) -> None:
        """Say how the channel is: ``ok``, ``degraded`` or ``failing``, with a Chinese message
        (for example 令牌将在 3 天后过期); shown by ``yuqingd status`` until the next call."""
        self._health.set_by_plugin(state, message)


@dataclass(frozen=True)
class NotifierSpec:
    """One ``notifiers:`` entry of the config, validated by the kind's options model."""

    name: str
    kind: str
    options: Any
    base_dir: Path
    rate: Rate | None = None  # the entry's ``rate_limit:`` (None: the notifier's own, if any)


@dataclass(frozen=True)
class NotifierKind:
    """A kind of notifier (``console``, ``jsonl`` …) a plugin offers."""

    name: str
    options: type[pydantic.BaseModel]
    create: Callable[[NotifierSpec], Notifier]
    description: str = ""
