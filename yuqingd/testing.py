"""Test tools for yuqingd and for plugin authors (docs/plugins.md, "Testing").

- :func:`run_source` / :func:`run_notifier`: one source or notifier on trio's (virtual) clock,
  with the context the daemon would give it;
- :class:`Harness`: a plugin object offering a ``scripted`` source (the test posts items) and a
  ``capture`` notifier (its ``sent`` are the captured notifications; it can fail or hang);
- :func:`running_daemon`: a whole daemon with your plugin objects, on the test's clock;
- :func:`write_config`: a daemon config and rule file (the ``make_config`` fixture);
- :class:`~yuqingd.testing_http.MockHTTP` and :class:`~yuqingd.testing_http.LoopbackServer`:
  canned HTTP in-process or on 127.0.0.1 (the ``http_mock`` and ``loopback_server`` fixtures).

The fixtures come from :mod:`yuqingd.pytest_plugin`, registered through ``pytest11``.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import textwrap
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import trio
import trio.lowlevel
import yaml
from pydantic import BaseModel

from yuqingd import hookimpl
from yuqingd.config import load_config
from yuqingd.health import Health
from yuqingd.model import Item, Notification, NotifiedItem, Recipient
from yuqingd.notifiers import Notifier, NotifierContext, NotifierKind, NotifierSpec
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.schema_types import STRICT
from yuqingd.sources import Source, SourceContext, SourceKind, SourceSpec
from yuqingd.testing_http import LoopbackServer, MockHTTP, Routes
from yuqingd.time.clock import Clock

__all__ = [
    "CONFIG", "RULES", "START_EPOCH", "Harness", "LoopbackServer", "MockHTTP", "NotifierRun",
    "Routes", "SourceRun", "daemon_status", "make_notification", "new_short_dir", "run_notifier",
    "run_source", "running_daemon", "write_config",
]

START_EPOCH = 1_778_378_400.0  # 2026-05-10 10:00 +08:00, a Sunday: where test clocks start

# A rule file: two watched schools, a three-step chain, one rule (3 negative items within 1h).
RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处, 耒阳六处学校]}
    - {name: 城关第二中学, aliases: [城关二中]}
  negative_words: [体罚, 殴打, 隐瞒, 变质]
  positive_words: [表彰, 点赞]
chains:
  major:
    - {notify: 值班员, ack_within: 15m}
    - {notify: 办公室主任, ack_within: 30m}
    - {notify: 组长, repeat_every: 1h}
rules:
  - id: negative-burst
    title: 涉校负面信息集中出现
    match: {entity: any, sentiment: negative}
    threshold: {count: 3, within: 1h, per: entity}
    then:
      incident: {severity: 较大, chain: major}
"""

# A config for the Harness: source ``forum`` (scripted), channel ``duty-phone`` (capture), three
# roles reached through it. ``{socket}`` is replaced by a short path; braces are doubled.
CONFIG = """\
timezone: Asia/Shanghai
state_dir: state
control_socket: {socket}
rules: [rules.yaml]
sources:
  - {{name: forum, kind: scripted}}
notifiers:
  - {{name: duty-phone, kind: capture}}
roles:
  值班员: {{person: 张明, channels: [duty-phone]}}
  办公室主任: {{person: 李华, channels: [duty-phone]}}
  组长: {{person: 王强, channels: [duty-phone]}}
"""


def new_short_dir() -> Path:
    """A new folder under /tmp with a short name, for Unix sockets (paths are limited to 107
    bytes, which pytest's tmp_path often exceeds). The caller removes it."""
    return Path(tempfile.mkdtemp(prefix="yq", dir="/tmp"))


def write_config(
    folder: Path,
    socket_dir: Path,
    config: str = CONFIG,
    rules: str = RULES,
    *,
    sources: Sequence[dict[str, Any]] | None = None,
    notifiers: Sequence[dict[str, Any]] | None = None,
    **settings: Any,
) -> Path:
    """Write ``yuqingd.yaml`` and ``rules.yaml`` in ``folder``; returns the config's path.

    ``config`` is YAML text with ``{socket}`` (put in ``socket_dir``) and doubled braces.
    ``sources`` / ``notifiers`` replace those sections with the given entries (dicts with
    ``name``, ``kind`` and the kind's options) and other keyword arguments set top-level keys
    (``supervisor={"stall_after": "10m"}``). The roles of the default config reach people
    through the channel ``duty-phone``: name your notifier that, or pass ``roles=``.
    """
    (folder / "rules.yaml").write_text(textwrap.dedent(rules), encoding="utf-8")
    text = textwrap.dedent(config).replace("{socket}", str(socket_dir / "control.sock"))
    text = text.replace("{{", "{").replace("}}", "}")
    if sources is not None or notifiers is not None or settings:
        data = yaml.safe_load(text)
        if sources is not None:
            data["sources"] = [dict(s) for s in sources]
        if notifiers is not None:
            data["notifiers"] = [dict(n) for n in notifiers]
        data.update(settings)
        text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path = folder / "yuqingd.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# -- one source or notifier on virtual time ------------------------------------------------------


@dataclass
class SourceRun:
    """What a source handed to the core in :func:`run_source`."""

    items: list[Item] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)  # the cursor passed with each item
    health: Health = field(default_factory=Health)
    heartbeats: int = 0
    returned: bool = False  # run() returned (rather than being stopped by the test)

    @property
    def ids(self) -> list[str]:
        """Every emitted item's id, repeats included (a re-read overlap emits them again)."""
        return [item.id for item in self.items]

    @property
    def unique_ids(self) -> list[str]:
        """What the store would keep: each id once, in first-emitted order (dedupe)."""
        return list(dict.fromkeys(self.ids))

    def committed_cursor(self, before: str | None = None) -> str | None:
        """The cursor the store would hold now: the last one passed, else ``before``."""
        return next((c for c in reversed(self.cursors) if c is not None), before)


def _spec(kind: SourceKind | NotifierKind, name: str, options: dict[str, Any] | None,
          base_dir: Path | None) -> Any:
    model = kind.options.model_validate(options or {})
    spec_type = SourceSpec if isinstance(kind, SourceKind) else NotifierSpec
    return spec_type(name, kind.name, model, base_dir or Path.cwd())


async def run_source(
    source: Source | SourceKind,
    *,
    http: httpx.AsyncClient,
    options: dict[str, Any] | None = None,
    name: str = "source",
    cursor: str | None = None,
    items: int | None = None,
    until: float | None = None,
    start_epoch: float = START_EPOCH,
    timezone: str = "Asia/Shanghai",
    stall_budget: float = 1800.0,
    base_dir: Path | None = None,
) -> SourceRun:
    """Run ``source.run(ctx)`` with a context like the daemon's, until it has emitted ``items``
    items, ``until`` seconds have passed, or it returns. Pass a :class:`SourceKind` and
    ``options`` (a dict, validated by the kind's model) to build the source as the core does.
    An exception from the source propagates. Use trio's ``autojump_clock`` so ``ctx.sleep``
    and timeouts take no real time; ``ctx.clock`` starts at ``start_epoch``."""
    if isinstance(source, SourceKind):
        source = source.create(_spec(source, name, options, base_dir))
    run = SourceRun()
    clock = Clock(timezone, start_epoch=start_epoch)
    clock.start()
    done = trio.CancelScope()

    async def emit(item: Item, item_cursor: str | None) -> None:
        run.items.append(item.cleaned(source=name))
        run.cursors.append(item_cursor)
        if items is not None and len(run.items) >= items:
            done.cancel()
            await trio.lowlevel.checkpoint()  # stop here, not at the source's next await

    def beat() -> None:
        run.heartbeats += 1

    ctx = SourceContext(name, cursor=cursor, emit=emit, heartbeat=beat, http=http, clock=clock,
                        stall_budget=stall_budget, health=run.health)
    with done:
        if until is not None:
            done.deadline = trio.current_time() + until
        await source.run(ctx)
        run.returned = True
    return run


@dataclass
class NotifierRun:
    """What :func:`run_notifier` saw: the context it gave and the notifications delivered."""

    ctx: NotifierContext
    delivered: list[Notification] = field(default_factory=list)
    errors: list[tuple[Notification, Exception]] = field(default_factory=list)

    @property
    def health(self) -> Health:
        return self.ctx._health


async def run_notifier(
    notifier: Notifier | NotifierKind,
    notifications: Sequence[Notification],
    *,
    http: httpx.AsyncClient,
    options: dict[str, Any] | None = None,
    name: str = "duty-phone",
    send_timeout: float = 30.0,
    start_epoch: float = START_EPOCH,
    timezone: str = "Asia/Shanghai",
    raise_errors: bool = True,
    base_dir: Path | None = None,
) -> NotifierRun:
    """``start(ctx)`` (when the notifier has it), ``send`` each notification within
    ``send_timeout`` (the delivery timeout), then ``close()`` — as the daemon's channel worker
    does, on the test's clock (``ctx.clock`` starts at ``start_epoch``). With
    ``raise_errors=False`` a failed send is kept in ``errors`` and the next one is tried."""
    if isinstance(notifier, NotifierKind):
        notifier = notifier.create(_spec(notifier, name, options, base_dir))
    clock = Clock(timezone, start_epoch=start_epoch)
    clock.start()
    run = NotifierRun(NotifierContext(name, http=http, clock=clock, timeout=send_timeout))
    start = getattr(notifier, "start", None)
    if start is not None:
        with trio.fail_after(send_timeout):
            await start(run.ctx)
    try:
        for notification in notifications:
            try:
                with trio.fail_after(send_timeout):
                    await notifier.send(notification)
            except Exception as exc:
                if raise_errors:
                    raise
                run.errors.append((notification, exc))
            else:
                run.delivered.append(notification)
    finally:
        close = getattr(notifier, "close", None)
        if close is not None:
            with trio.move_on_after(send_timeout, shield=True):
                await close()
    return run


def make_notification(**fields: Any) -> Notification:
    """A plausible first-level incident alert to channel ``duty-phone``; ``fields`` override
    (``to`` may be given as (role, person) pairs, ``items`` as dicts of NotifiedItem's fields)."""
    values: dict[str, Any] = {
        "id": "inc-20260510-0001:incident.opened:1:duty-phone",
        "kind": "incident.opened",
        "channel": "duty-phone",
        "incident": "inc-20260510-0001",
        "rule": "negative-burst",
        "title": "涉校负面信息集中出现",
        "severity": "较大",
        "level": 1,
        "to": (Recipient("值班员", "张明"),),
        "at": "2026-05-10T10:05:00+08:00",
        "text": ("【舆情事件】涉校负面信息集中出现（较大）\n六处学校：1 小时内 3 条负面信息\n"
                 "- 六处学校老师体罚学生 https://forum.example/t/1"),
        "items": (NotifiedItem("六处学校老师体罚学生", "https://forum.example/t/1", "forum",
                               "2026-05-10T10:04:00+08:00"),),
    }
    values.update(fields)
    values["to"] = tuple(r if isinstance(r, Recipient) else Recipient(*r) for r in values["to"])
    values["items"] = tuple(i if isinstance(i, NotifiedItem) else NotifiedItem(**i)
                            for i in values["items"])
    return Notification(**values)


class ScriptedOptions(BaseModel):
    model_config = STRICT


class CaptureOptions(BaseModel):
    model_config = STRICT


class Harness:
    """Scripted sources and capturing notifiers, controlled by the test (the ``yuqingd_harness``
    fixture): ``post`` queues an item for every ``scripted`` source, ``sent`` holds what the
    ``capture`` notifiers delivered."""

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


async def daemon_status(daemon: Any) -> dict[str, Any]:
    """What ``yuqingd status`` gets from a daemon started by :func:`running_daemon`: the status
    line (``status``), ``sources`` and ``notifiers`` (name, kind, state, message, last item, last
    error, next poll, restarts, delivered) and ``incidents``."""
    reply: dict[str, Any] = await daemon.handle({"command": "status"})
    return reply


@contextlib.asynccontextmanager
async def running_daemon(
    config_path: Path,
    *plugins: object,
    start_epoch: float = START_EPOCH,
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
