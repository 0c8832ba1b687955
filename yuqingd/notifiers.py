"""What a notifier plugin provides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pydantic

from yuqingd.model import Notification


class Notifier(Protocol):
    async def send(self, notification: Notification) -> None:
        """Deliver one notification. Raise on failure: the core retries with back-off.
        ``notification.id`` is stable across retries; use it to avoid delivering twice."""


@dataclass(frozen=True)
class NotifierSpec:
    name: str
    kind: str
    options: Any
    base_dir: Path


@dataclass(frozen=True)
class NotifierKind:
    name: str
    options: type[pydantic.BaseModel]
    create: Callable[[NotifierSpec], Notifier]
    description: str = ""
