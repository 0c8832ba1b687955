"""Field types shared by the config and rule-file models."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, ConfigDict, Field, StringConstraints

from yuqingd.time.durations import parse_duration

# Seconds, written by people as "30s", "15m", "1h30m", "2d".
Duration = Annotated[float, BeforeValidator(parse_duration)]
PositiveDuration = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
NonEmptyStr = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]

# Unknown keys are errors ("did you mean …"), never silently ignored.
STRICT = ConfigDict(extra="forbid", frozen=True)
