"""Field types shared by the config and rule-file models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints, ValidationInfo

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
