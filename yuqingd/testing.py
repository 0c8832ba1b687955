"""Test helpers for yuqingd and for plugin authors.

``Harness`` is a plugin object offering a ``scripted`` source (items are pushed by the test) and a
``capture`` notifier (notifications are collected, and can be made to fail or hang). Register it
with ``get_plugin_manager(extra=(harness,))`` and run a :class:`~yuqingd.daemon.Daemon` on trio's
virtual clock with :func:`running_daemon`.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import trio
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.config import load_config
from yuqingd.model import Item, Notification
from yuqingd.notifiers import NotifierKind, NotifierSpec
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.schema_types import STRICT
from yuqingd.sources import SourceContext, SourceKind
from yuqingd.time.clock import Clock


class ScriptedOptions(BaseModel):
    model_config = STRICT


class CaptureOptions(BaseModel):
    model_config = STRICT


class Harness:
    """Scripted sources and capturing notifiers, controlled by the test."""

    def __init__(self) -> None:
        self._send, self._receive = trio.open_memory_channel[Item](math.inf)
        self.sent: list[Notification] = []
        self.failures_to_inject = 0  # the next N sends raise
        self.hang = False  # sends never return (until the core's timeout)
        self.send_attempts = 0

    # test side ----------------------------------------------------------------------------

    def post(self, id: str, title: str, text: str = "", url: str = "", **fields) -> None:
        """Queue an item for the scripted source (its ``source`` is set by the core)."""
        url = url or f"https://forum.example/t/{id}"
        self._send.send_nowait(
            Item(source="scripted", id=id, title=title, text=text, url=url, **fields)
        )

    def kinds(self, channel: str | None = None) -> list[tuple[str, int]]:
        return [(n.kind, n.level) for n in self.sent if channel is None or n.channel == channel]

    # plugin side --------------------------------------------------------------------------

    @hookimpl
    def yuqingd_source_kinds(self) -> list[SourceKind]:
        return [SourceKind("scripted", ScriptedOptions, lambda spec: _ScriptedSource(self))]

    @hookimpl
    def yuqingd_notifier_kinds(self) -> list[NotifierKind]:
        return [NotifierKind("capture", CaptureOptions, lambda spec: _CaptureNotifier(self, spec))]


class _ScriptedSource:
    def __init__(self, harness: Harness):
        self.harness = harness

    async def run(self, ctx: SourceContext) -> None:
        while True:
            ctx.heartbeat()
            with trio.move_on_after(60):
                item = await self.harness._receive.receive()
                await ctx.emit(item)


class _CaptureNotifier:
    def __init__(self, harness: Harness, spec: NotifierSpec):
        self.harness = harness

    async def send(self, notification: Notification) -> None:
        self.harness.send_attempts += 1
        if self.harness.hang:
            await trio.sleep_forever()
        if self.harness.failures_to_inject:
            self.harness.failures_to_inject -= 1
            raise ConnectionError("injected failure")
        self.harness.sent.append(notification)


@contextlib.asynccontextmanager
async def running_daemon(
    config_path: Path,
    *plugins: object,
    start_epoch: float = 1_778_378_400.0,
    http: httpx.AsyncClient | None = None,
) -> AsyncIterator:
    """Start a Daemon for ``config_path`` with extra plugin objects; stop it on exit.

    ``start_epoch`` is where the daemon's clock starts (default 2026-05-10 10:00 +08:00); under
    ``autojump_clock`` time then moves only as the test sleeps. ``http``: the client sources and
    notifiers get (an ``httpx.MockTransport`` one, or the ``http_mock`` fixture's); the caller
    closes it.
    """
    from yuqingd.daemon import Daemon

    manager = Plugins(get_plugin_manager(extra=plugins))
    config = load_config(config_path, manager)
    daemon = Daemon(config, manager, clock=Clock(config.file.timezone, start_epoch=start_epoch),
                    http=http)
    async with trio.open_nursery() as nursery:
        await nursery.start(daemon.run)
        try:
            yield daemon
        finally:
            daemon.request_stop()
