"""A JSON record becomes an :class:`~yuqingd.model.Item`: the one parser of the recorded-stream
format that the replay source, ``yuqingd simulate`` and ``yuqingd explain`` all read.

A record is a JSON object with ``id``, ``title``, ``text``, ``url``, ``author`` (strings; an id
may be a whole number), ``reposts``, ``comments`` (whole numbers ≥ 0) and ``published`` (ISO
8601 with an offset); ``source`` names its source. Other fields (``at``, a recorded model score)
stay in :attr:`Item.raw`. A record that does not hold an item raises :class:`RecordError`, a
``ValueError`` whose message (Chinese, English with ``LANG=en*``) names the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from yuqingd.located import msg
from yuqingd.model import Item

TEXT_FIELDS = ("title", "text", "url", "author")
COUNT_FIELDS = ("reposts", "comments")


class RecordError(ValueError):
    """The record does not hold an item; the message says which field and why."""


def parse_published(value: Any) -> float | None:
    """``published``: ISO 8601 with an offset, as epoch seconds; absent or empty is None."""
    if value in (None, ""):
        return None
    try:
        moment = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise RecordError(msg(f"字段 published 应为带时区的 ISO 8601 时间"
                              f"（例如 2026-05-10T10:00:00+08:00），写的是 {value!r}",
                              f"field published must be ISO 8601 with an offset "
                              f"(e.g. 2026-05-10T10:00:00+08:00), not {value!r}"))
    return moment.timestamp()


def item_from_record(record: Mapping[str, Any], *, source: str | None = None,
                     default_source: str = "", default_id: str | None = None) -> Item:
    """The item ``record`` holds. ``source``: the source it comes from whatever the record
    says (a replay source's own name); otherwise the record's ``source``, else
    ``default_source``. ``default_id``: the id of a record without one (None: it must have
    one)."""
    fields: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = record.get(name, "")
        if not isinstance(value, str):
            raise RecordError(msg(f"字段 {name} 应为字符串", f"field {name} must be a string"))
        fields[name] = value
    for name in COUNT_FIELDS:
        value = record.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise RecordError(msg(f"字段 {name} 应为非负整数",
                                  f"field {name} must be a whole number ≥ 0"))
        fields[name] = value
    item_id = record.get("id", default_id)
    if item_id is None:
        raise RecordError(msg("缺少字段 id", "field id is missing"))
    if not isinstance(item_id, str | int) or isinstance(item_id, bool) or str(item_id) == "":
        raise RecordError(msg("字段 id 应为非空字符串", "field id must be a non-empty string"))
    if source is None:
        named = record.get("source") or default_source
        if not isinstance(named, str):
            raise RecordError(msg("字段 source 应为字符串", "field source must be a string"))
        source = named
    return Item(source=source, id=str(item_id), published_at=parse_published(
        record.get("published")), raw=dict(record), **fields)
