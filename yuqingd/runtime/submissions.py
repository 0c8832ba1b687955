"""What sub-units (旗县区, schools …) must submit, and by when: the ``submissions:`` section.

    submissions:
      - name: 旗县区信息周报
        units: [A旗, B区, {name: C县, contacts: [刘芳]}]
        due: "0 12 * * MON"          # a schedule (yuqingd.time.schedules), in the config's zone
        remind_before: 2h            # contacts (else the first escalate role) are reminded
        escalate: [值班员, 办公室主任] # told in turn once a unit is late: at due, then every …
        escalate_every: 1h

Each due time opens one expectation per unit (yuqingd.runtime.expectations); ``yuqingd submit
--unit A旗 --by NAME`` meets it.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, model_validator

from yuqingd.schema_types import STRICT, Duration, NonEmptyStr, PositiveDuration
from yuqingd.time.schedules import ScheduleExpr


class UnitSpec(BaseModel):
    """A unit that submits, and the people (by name) reminded on its behalf."""

    model_config = STRICT
    name: NonEmptyStr
    contacts: list[NonEmptyStr] = []


def _unit(value: Any) -> Any:
    return {"name": value} if isinstance(value, str) else value


class SubmissionSpec(BaseModel):
    """One recurring submission expected from each of ``units``."""

    model_config = STRICT
    name: NonEmptyStr
    units: Annotated[list[Annotated[UnitSpec, BeforeValidator(_unit)]], Field(min_length=1)]
    due: ScheduleExpr
    remind_before: Duration = 0.0
    escalate: list[NonEmptyStr] = []
    escalate_every: PositiveDuration = 3600.0

    @model_validator(mode="after")
    def _distinct_units(self) -> SubmissionSpec:
        names = [u.name for u in self.units]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"units 中单位重复: {'、'.join(twice)}")
        return self

    def unit(self, name: str) -> UnitSpec | None:
        return next((u for u in self.units if u.name == name), None)
