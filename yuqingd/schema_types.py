"""Field types shared by the config and rule-file models."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
)

from yuqingd.located import msg
from yuqingd.time.durations import parse_duration

# Seconds, written by people as "30s", "15m", "1h30m", "2d".
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

# Unknown keys are errors ("did you mean …"), never silently ignored.
STRICT = ConfigDict(extra="forbid", frozen=True)


def fallback_chain(after: float | None, info: ValidationInfo) -> float | None:
    """``fallback_after`` of a person's entry: their ``channels`` become an ordered chain (the
    next one used once the current one has failed this long), so it needs two of them."""
    channels = info.data.get("channels")
    if after is None or channels is None:
        return after
    if len(channels) < 2:
        raise ValueError(msg("fallback_after 需要至少两个渠道（channels 按顺序列出首选和备用渠道）",
                             "fallback_after needs two or more channels, in order"))
    if len(set(channels)) < len(channels):
        raise ValueError(msg("有 fallback_after 时 channels 中的渠道不能重复",
                             "with fallback_after, channels must not repeat"))
    return after


@dataclass(frozen=True)
class Rate:
    """At most ``count`` messages in any ``per`` seconds (a channel's rate limit)."""

    count: int
    per: float


_RATE_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "秒": 1.0, "m": 60.0, "min": 60.0,
               "minute": 60.0, "分钟": 60.0, "h": 3600.0, "hour": 3600.0, "小时": 3600.0}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\S+)\s*")


def parse_rate(value: Any) -> Any:
    """``20/min`` → Rate(20, 60); also ``1/s``, ``100/h`` and ``10/5m`` (a duration)."""
    if isinstance(value, Rate):
        return value
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    per = None
    if match:
        unit = match.group(2)
        try:
            per = _RATE_UNITS.get(unit) or parse_duration(unit)
        except ValueError:
            per = None
    if match is None or per is None or per <= 0 or int(match.group(1)) <= 0:
        raise ValueError(msg(f"速率应写作 次数/时间单位（如 20/min、1/s、100/h），不是 '{value}'",
                             f"a rate is count/unit (20/min, 1/s, 100/h), not '{value}'"))
    return Rate(int(match.group(1)), float(per))


RateLimit = Annotated[Rate, BeforeValidator(parse_rate), WithJsonSchema({
    "type": "string", "pattern": r"^\s*[0-9]+\s*/\s*\S+\s*$", "examples": ["20/min", "1/s"],
    "description": "最多发送条数/时间单位 (at most count messages per unit)"})]
