"""``yuqingd simulate``: the whole daemon logic on a simulated clock over a recorded stream.

Input, one JSON object per line, ordered by ``at`` (ISO 8601 with offset):

- an item: ``{"at", "source", "id", "title", "text", "url", "author", "published"?,
  "reposts"?, "comments"?}``
- a person's action: ``{"at", "action": NAME, "by", ...}`` where NAME is any command handler
  (``ack``, ``report``, ``close``, ``check_in``, ``submit``, ``handover``, ``watch.start``,
  ``silence.add`` …; see ``yuqingd.commands``) and the rest are its arguments; an incident is named
  by ``{"rule": RULE_ID, "key": GROUP_VALUE}``, the open incident of that rule for that key.

Output (see docs/simulate.md): one JSON object per line, ordered by ``at``, each with ``at``
(ISO 8601 with offset) and ``event``: ``incident.opened``, ``incident.acknowledged``,
``incident.reported``, ``incident.closed``, ``incident.escalated``, ``notification``, ``report``,
``watch.started``, ``watch.ended``, ``expectation.missed``, ``expectation.reminded``,
``expectation.escalated``, ``expectation.met``, ``duty.gap``, ``handover``, ``watch.summary``,
``notification.silenced``, and also ``rule.fired``,
``flatline``, ``incident.repeated``, ``incident.reminded``. Nothing leaves the machine:
notifications are written to the output instead of being delivered, and the state lives in a
temporary database.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trio
import trio.testing

from yuqingd import commands, json_errors
from yuqingd.config import Config
from yuqingd.core import Core, open_core
from yuqingd.events import Events
from yuqingd.located import msg
from yuqingd.model import Item
from yuqingd.plugins import Plugins
from yuqingd.records import item_from_record
from yuqingd.time.clock import Clock

DEFAULT_TAIL = 86400.0  # without --until, run a day past the last input line


class SimulationInputError(ValueError):
    """A bad input line; the message names the line."""


@dataclass(frozen=True)
class Input:
    at: float
    line: int
    item: Item | None = None
    action: dict[str, Any] | None = None


def parse_time(text: str) -> float:
    moment = dt.datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(msg(f"时间缺少时区偏移: {text!r}（例如 2026-05-10T10:00+08:00）",
                             f"time without offset: {text!r}"))
    return moment.timestamp()


def parse_inputs(lines: Iterable[str], *, name: str = "<input>",
                 default_source: str = "simulate") -> list[Input]:
    """Parse and check input lines; raises SimulationInputError naming the bad line."""
    inputs: list[Input] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SimulationInputError(
                f"{name}:{number}:{exc.colno}: {json_errors.describe(exc)}") from None
        try:
            if not isinstance(record, dict):
                raise ValueError(msg("每行应为 JSON 对象", "each line must be a JSON object"))
            inputs.append(parse_record(record, number, default_source))
        except (ValueError, KeyError, TypeError) as exc:
            raise SimulationInputError(f"{name}:{number}: {exc}") from None
    for before, after in zip(inputs, inputs[1:], strict=False):
        if after.at < before.at:
            raise SimulationInputError(msg(
                f"{name}:{after.line}: 时间早于上一行（输入须按 at 排序）",
                f"{name}:{after.line}: earlier than the line before (sort by at)"))
    return inputs


def parse_record(record: dict[str, Any], number: int, default_source: str) -> Input:
    at = parse_time(record["at"])
    if "action" in record:
        commands.load()
        if record["action"] not in commands.HANDLERS:
            known = ", ".join(sorted(commands.HANDLERS))
            raise ValueError(msg(f"未知动作 {record['action']!r}（可用: {known}）",
                                 f"unknown action {record['action']!r} (known: {known})"))
        return Input(at, number, action=record)
    item = item_from_record(record, default_source=default_source, default_id=f"line-{number}")
    return Input(at, number, item=item)


def simulate(config: Config, plugins: Plugins, inputs: list[Input],
             until: float | None = None) -> list[dict[str, Any]]:
    """Run the daemon logic over ``inputs`` on a virtual clock; returns the output records."""
    if not inputs:
        return []
    clock = trio.testing.MockClock(autojump_threshold=0)
    return trio.run(_simulate, config, plugins, inputs, until, clock=clock)


async def _simulate(config: Config, plugins: Plugins, inputs: list[Input],
                    until: float | None) -> list[dict[str, Any]]:
    start = inputs[0].at
    end = until if until is not None else inputs[-1].at + DEFAULT_TAIL
    clock = Clock(config.file.timezone, start_epoch=start)
    events = Events()
    out: list[dict[str, Any]] = []
    events.subscribe(lambda record: out.append(record) if record["at"] <= end else None)
    with tempfile.TemporaryDirectory(prefix="yuqingd-sim-") as state:
        # The daemon's core without its lifecycle: no control socket, sources, delivery or
        # systemd; this loop feeds the items and actions.
        clock.start()
        core = open_core(config, plugins, clock=clock, events=events,
                         database=Path(state) / "simulate.sqlite3")
        try:
            core.configure(config)
            async with trio.open_nursery() as nursery:
                await nursery.start(core.scheduler.run)
                for entry in inputs:
                    if entry.at > end:
                        break
                    await clock.sleep_until(entry.at)
                    # What falls due at this very instant happens first, then the input line:
                    # a tie must not depend on task scheduling.
                    core.scheduler.fire_due()
                    if entry.item is not None:
                        core.pipeline.handle(entry.item, None)
                    else:
                        _act(core, entry, events)
                await clock.sleep_until(end)
                core.scheduler.fire_due()  # what is due at the very end is in the output
                nursery.cancel_scope.cancel()
        finally:
            core.close()
    return [_render(record, clock) for record in out]


def _act(core: Core, entry: Input, events: Events) -> None:
    """A person's action line: the same command handler the control socket runs."""
    action = dict(entry.action or {})
    now = core.clock.time()
    reply = core.perform(str(action.pop("action")), action, now)
    if not reply["ok"]:
        events.emit("error", now, line=entry.line, message=reply["error"])


def _render(record: dict[str, Any], clock: Clock) -> dict[str, Any]:
    at = record["at"]
    return {**record, "at": clock.format(at) if math.isfinite(at) else at}


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=False)
