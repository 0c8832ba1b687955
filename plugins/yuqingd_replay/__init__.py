"""Replay source: reads a recorded JSONL stream and re-plays it with its recorded gaps.

Each line: ``{"at": ISO 8601, "id", "title", "text"?, "url"?, "author"?, "published"?,
"reposts"?, "comments"?}``. The gap between two lines' ``at`` is waited (divided by ``speed``)
before the later one is emitted, and a ``published`` time keeps its lag behind ``at`` (divided
by ``speed``), so a recording plays as if it were happening now. The cursor is the line number,
so a restart resumes after the last stored line.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import structlog
import trio
from pydantic import BaseModel, Field

from yuqingd import hookimpl
from yuqingd.enrichers import LABELS, Enricher, Score
from yuqingd.model import Item
from yuqingd.records import item_from_record
from yuqingd.schema_types import STRICT, NonEmptyStr, PositiveDuration
from yuqingd.sources import SourceContext, SourceKind, SourceSpec

__version__ = "0.1.0"
log = structlog.get_logger("yuqingd.replay")


class ReplayOptions(BaseModel):
    model_config = STRICT
    path: NonEmptyStr
    speed: float = Field(default=1.0, gt=0)  # 60 = an hour of recording per minute
    idle_heartbeat: PositiveDuration = 60.0  # after the last line, stay alive and say so


class ReplaySource:
    def __init__(self, spec: SourceSpec):
        self.path = spec.base_dir / spec.options.path
        self.options: ReplayOptions = spec.options

    async def run(self, ctx: SourceContext) -> None:
        # Read in this task, not a worker thread: a recording is a small local file, and while
        # a thread runs a virtual clock (tests, simulation) would race ahead of the replay.
        lines = self.path.read_text(encoding="utf-8").splitlines()  # noqa: ASYNC240
        done = int(ctx.cursor or 0)
        previous_at: float | None = None
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                at = _epoch(record["at"])
            except (ValueError, KeyError, TypeError) as exc:
                log.error("replay.bad_line", file=str(self.path), line=number, error=str(exc))
                continue
            if number <= done:
                previous_at = at
                continue
            if previous_at is not None and at > previous_at:
                await trio.sleep((at - previous_at) / self.options.speed)
            previous_at = at
            try:
                item = _item(ctx.name, record, now=ctx.clock.time(), speed=self.options.speed)
            except (ValueError, TypeError, KeyError) as exc:
                log.error("replay.bad_item", file=str(self.path), line=number, error=str(exc))
                continue
            await ctx.emit(item, cursor=str(number))
        log.info("replay.finished", file=str(self.path), lines=len(lines))
        while True:
            ctx.heartbeat()
            await trio.sleep(self.options.idle_heartbeat)


def _epoch(text: str) -> float:
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return parsed.timestamp()


def _item(source: str, record: dict, *, now: float, speed: float) -> Item:
    item = item_from_record(record, source=source)
    if item.published_at is None:
        return item
    # As if the recording were happening now: keep the post's lag behind its recording.
    return replace(item, published_at=now - (_epoch(record["at"]) - item.published_at) / speed)


@hookimpl
def yuqingd_source_kinds() -> list[SourceKind]:
    return [
        SourceKind(
            "replay",
            ReplayOptions,
            ReplaySource,
            "replays a recorded JSONL stream (demo, tests, simulation)",
        )
    ]


def recorded_score(item: Item, enrichment) -> Score | None:
    """A model's verdict recorded with the item (``"model_sentiment": {"value": -0.8,
    "label": "negative"}`` on a replayed or simulated line), so a stream scored offline by an
    outside model replays with that score beside the built-in one."""
    recorded = item.raw.get("model_sentiment") if isinstance(item.raw, dict) else None
    if not isinstance(recorded, dict) or not isinstance(recorded.get("value"), int | float):
        return None
    label = recorded.get("label")
    return Score(float(recorded["value"]), label if label in LABELS else None)


@hookimpl
def yuqingd_enrichers() -> list[Enricher]:
    return [Enricher("recorded", recorded_score)]
