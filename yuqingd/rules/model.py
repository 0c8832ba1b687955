"""The rule-file language (one YAML file per rule set), as typed models.

A rule file may declare a watch list, escalation chains and rules; several files are merged
(rule ids and chain names must be unique across them).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field

from yuqingd.schema_types import STRICT, NonEmptyStr, PositiveDuration

Severity = Literal["一般", "较大", "重大", "特别重大"]
Sentiment = Literal["negative", "neutral", "positive"]


class Entity(BaseModel):
    """A watched name (school, bureau, person) and the other ways people write it."""

    model_config = STRICT
    name: NonEmptyStr
    aliases: list[NonEmptyStr] = []


class Watchlist(BaseModel):
    model_config = STRICT
    entities: list[Entity] = []
    negative_words: list[NonEmptyStr] = []
    positive_words: list[NonEmptyStr] = []


class ChainLevel(BaseModel):
    """One rung of an escalation ladder: who is told, and how long they have to acknowledge."""

    model_config = STRICT
    notify: NonEmptyStr  # a role from the config's roles:
    ack_within: PositiveDuration | None = None
    repeat_every: PositiveDuration | None = None


def _ladder(levels: list[ChainLevel]) -> list[ChainLevel]:
    """Every level but the last must hand on after ``ack_within``; only the last may repeat."""
    for number, level in enumerate(levels[:-1], start=1):
        if level.ack_within is None:
            raise ValueError(
                f"第{number}级需要 ack_within，否则升级链到此为止，后面的级别永远不会被通知"
            )
        if level.repeat_every is not None:
            raise ValueError(
                f"第{number}级不是最后一级，不能写 repeat_every（只有最后一级可重复提醒）"
            )
    return levels


class Match(BaseModel):
    """Conditions on one item and its enrichment; all given conditions must hold."""

    model_config = STRICT
    entity: NonEmptyStr = "any"  # 'any' or a watch-list entity name
    sentiment: Sentiment | None = None


class Threshold(BaseModel):
    """``count`` matching items within a sliding ``within``, counted separately ``per`` group."""

    model_config = STRICT
    count: int = Field(ge=1)
    within: PositiveDuration
    per: Literal["entity"] = "entity"


class IncidentAction(BaseModel):
    model_config = STRICT
    severity: Severity
    chain: NonEmptyStr


class Then(BaseModel):
    model_config = STRICT
    incident: IncidentAction


class Rule(BaseModel):
    model_config = STRICT
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")  # a stable key: state is kept by it
    title: NonEmptyStr
    match: Match = Match()
    threshold: Threshold
    then: Then


class RuleFile(BaseModel):
    model_config = STRICT
    watchlist: Watchlist = Watchlist()
    chains: dict[
        NonEmptyStr, Annotated[list[ChainLevel], Field(min_length=1), AfterValidator(_ladder)]
    ] = {}
    rules: list[Rule] = []
