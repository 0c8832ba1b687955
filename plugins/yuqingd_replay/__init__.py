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

import structlog
import trio
from pydantic import BaseModel, Field

from yuqingd import hookimpl
from yuqingd.enrichers import LABELS, Enricher, Score
from yuqingd.model import Item
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
        # Bytes, split here: one undecodable line is set aside, not the whole file.
        lines = self.path.read_bytes().split(b"\n")  # noqa: ASYNC240
        done = int(ctx.cursor or 0)
        previous_at: float | None = None
        where = str(self.path)
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                record = _record(raw)
                at = _epoch(record["at"])
            except Exception as exc:  # any line, however broken, is one dead letter
                if number > done:
                    ctx.reject(f"{where}:{number}", _reason(exc), raw[:MAX_KEPT])
                continue
            if number <= done:
                previous_at = at
                continue
            if previous_at is not None and at > previous_at:
                await trio.sleep((at - previous_at) / self.options.speed)
            previous_at = at
            try:
                item = _item(ctx.name, record, now=ctx.clock.time(), speed=self.options.speed)
            except Exception as exc:
                ctx.reject(f"{where}:{number}", _reason(exc), raw[:MAX_KEPT])
                continue
            await ctx.emit(item, cursor=str(number))
        log.info("replay.finished", file=where, lines=len(lines))
        while True:
            ctx.heartbeat()
            await trio.sleep(self.options.idle_heartbeat)


MAX_LINE = 8 * 1024 * 1024  # a recorded line longer than this is refused unread
MAX_KEPT = 4096  # bytes of a refused line kept in its dead letter


class RecordError(ValueError):
    pass


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, RecordError) else f"{type(exc).__name__}: {exc}"[:500]


def _record(raw: bytes) -> dict:
    """One recorded line as a JSON object, or RecordError saying what is wrong (in Chinese)."""
    if len(raw) > MAX_LINE:
        raise RecordError(f"行过长（{len(raw)} 字节，上限 {MAX_LINE}）")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = raw[exc.start]
        raise RecordError(f"第 {exc.start + 1} 个字节不是 UTF-8（0x{byte:02x}）") from None
    try:
        record = json.loads(text, parse_constant=_no_constant)
    except RecursionError:  # 10,000 brackets: refused by the decoder's depth check, at once
        raise RecordError("JSON 嵌套超过上限（过多层括号）") from None
    except ValueError as exc:
        raise RecordError(f"不是有效的 JSON: {exc}") from None
    if not isinstance(record, dict):
        raise RecordError("每行应为一个 JSON 对象 {...}")
    return record


def _no_constant(name: str) -> float:
    raise RecordError(f"JSON 中不能有 {name}（应为有限数字）")


def _epoch(text: object) -> float:
    if not isinstance(text, str):
        raise RecordError(f"时间应为 ISO 8601 字符串，写的是 {text!r:.40}")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise RecordError(f"时间格式错误: {text!r:.40}") from None
    if parsed.tzinfo is None:
        raise RecordError(f"时间缺少时区（如 +08:00）: {text!r:.40}")
    return parsed.timestamp()


def _text(record: dict, name: str) -> str:
    value = record.get(name, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"字段 {name} 应为字符串")
    return value


def _count(record: dict, name: str) -> int:
    value = record.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise RecordError(f"字段 {name} 应为非负整数")
    return value


def _item(source: str, record: dict, *, now: float, speed: float) -> Item:
    item_id = record.get("id")
    if isinstance(item_id, bool) or not isinstance(item_id, str | int) or str(item_id) == "":
        raise RecordError("字段 id 应为非空字符串（或整数）")
    published = None
    if record.get("published"):
        # As if the recording were happening now: keep the post's lag behind its recording.
        published = now - (_epoch(record["at"]) - _epoch(record["published"])) / speed
    return Item(
        source=source,
        id=str(item_id),
        title=_text(record, "title"),
        text=_text(record, "text"),
        url=_text(record, "url"),
        author=_text(record, "author"),
        published_at=published,
        reposts=_count(record, "reposts"),
        comments=_count(record, "comments"),
        # The rest of the line (a recorded model score …); the item's own fields are above.
        raw={k: v for k, v in record.items() if k not in _ITEM_FIELDS},
    )


_ITEM_FIELDS = {"id", "title", "text", "url", "author", "reposts", "comments"}


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
