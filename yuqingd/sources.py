"""What a source plugin provides and what it gets from the core."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
import pydantic

from yuqingd.model import Item
from yuqingd.time.clock import Clock


class Source(Protocol):
    async def run(self, ctx: SourceContext) -> None:
        """Fetch items forever, handing each to ``ctx.emit``. Raising is fine: the core logs,
        backs off and runs it again from the last committed cursor."""


@dataclass(frozen=True)
class SourceSpec:
    """One ``sources:`` entry of the config, validated by the kind's options model."""

    name: str
    kind: str
    options: Any  # an instance of the kind's options model
    base_dir: Path  # relative paths in options are relative to the config file's folder


@dataclass(frozen=True)
class SourceKind:
    """A kind of source (``replay``, ``rss`` …) a plugin offers."""

    name: str
    options: type[pydantic.BaseModel]  # extra='forbid' so typos are reported with a location
    create: Callable[[SourceSpec], Source]
    description: str = ""


class SourceContext:
    """Handed to ``Source.run``: where items go and what the core shares with the source."""

    def __init__(
        self,
        name: str,
        *,
        cursor: str | None,
        emit: Callable[[Item, str | None], Awaitable[None]],
        heartbeat: Callable[[], None],
        http: httpx.AsyncClient,
        clock: Clock,
    ):
        self.name = name
        self.cursor = cursor  # the last cursor committed with an item of this source, or None
        self._emit = emit
        self.heartbeat = heartbeat  # call while idle-but-healthy so the supervisor sees life
        self.http = http
        self.clock = clock

    async def emit(self, item: Item, cursor: str | None = None) -> None:
        """Hand ``item`` to the pipeline; ``cursor`` is stored with it in the same transaction,
        and is what ``ctx.cursor`` holds after a restart. Blocks when the pipeline is behind."""
        self.heartbeat()
        await self._emit(item, cursor)
        if cursor is not None:
            self.cursor = cursor
