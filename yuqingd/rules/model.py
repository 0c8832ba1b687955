"""The rule-file language policy staff write, as typed models (the single source of truth:
the loader validates with these, and ``yuqingd schema`` exports them as JSON Schema).

A rule file may declare named lists, a watch list, key dates, escalation chains, rules, overrides
of rules from other files, and tests. The files named by the config are merged in order.
``docs/rule-language.md`` describes every field with examples.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from yuqingd.schema_types import STRICT, Duration, NonEmptyStr, PositiveDuration
from yuqingd.time.calendar import KeyDateSpec
from yuqingd.time.schedules import ScheduleExpr

Severity = Literal["一般", "较大", "重大", "特别重大"]
SEVERITY_RANK: dict[str, int] = {"一般": 0, "较大": 1, "重大": 2, "特别重大": 3}
Sentiment = Literal["negative", "neutral", "positive"]
Vigilance = Literal["normal", "elevated", "high"]
GroupBy = Literal["entity", "topic", "story", "source"]

# A list of words or names; an entry "$name" splices in the named list from `lists:`.
Words = list[NonEmptyStr]
OneOrMany = NonEmptyStr | list[NonEmptyStr]

RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"


class Append(BaseModel):
    """Extend a list or topic defined in another (for instance a shipped) rule file."""

    model_config = STRICT
    append: Words


class Entity(BaseModel):
    """A watched name (school, bureau, person) and the other ways people write it."""

    # Spellings match however they are written: 繁體, full-width, with spaces, punctuation,
    # emoji or HTML between the characters. `not` lists phrases in which a (short) alias is an
    # ordinary word rather than this name (六处 in 景区新增六处停车场); `digits: false` stops
    # 6 / ６ / 六 being taken for one another in this entity's spellings.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    name: NonEmptyStr
    aliases: Words = []
    not_: Words = Field([], alias="not")
    digits: bool = True


class Topic(BaseModel):
    """A category of concern: its keywords, and how serious a negative item about it is."""

    model_config = STRICT
    keywords: Words
    severity: Severity = "一般"


class LexiconExtension(BaseModel):
    """Words a rule pack adds to the shipped sentiment lexicon (``yuqingd/lexicon/*.yaml``):
    weighted sentiment words, degree words with their factor, and the cue words."""

    model_config = STRICT
    negative: dict[NonEmptyStr, float] = {}  # word → weight (1 = an ordinary negative word)
    positive: dict[NonEmptyStr, float] = {}
    degree: dict[NonEmptyStr, float] = {}  # 非常: 1.8, 有点: 0.6
    negation: Words = []  # 没有, 并未: turn the next sentiment word of the clause round
    prevention: Words = []  # 严禁, 防止: what follows is not happening
    contrast: Words = []  # 但是, 然而: what follows counts more
    denial: Words = []  # 不实, 辟谣: the reported negative is denied
    sarcasm: Words = []  # 呵呵, 好一个: praise in this sentence is not meant
    rumour: Words = []  # 网传: refuted by a later negation, the rumour is denied


class Watchlist(BaseModel):
    model_config = STRICT
    entities: list[Entity] = []
    topics: dict[NonEmptyStr, Words | Topic | Append] = {}
    exclude: Words = []  # an item containing any of these is stored but matches no rule
    negative_words: Words = []  # added to the shipped sentiment lexicon (weight 1)
    positive_words: Words = []
    lexicon: LexiconExtension | None = None  # more of the sentiment lexicon, by kind


class Keywords(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    any_: Words = Field([], alias="any")
    all_: Words = Field([], alias="all")
    none: Words = []
    in_: Literal["title", "text", "both"] = Field("both", alias="in")


class Engagement(BaseModel):
    """At least this many reposts / comments, and this spread speed: items of the item's story
    per hour over the last three hours, itself included (each given bound must hold)."""

    model_config = STRICT
    reposts: int | None = Field(None, ge=0)
    comments: int | None = Field(None, ge=0)
    spread: float | None = Field(None, gt=0)


class Match(BaseModel):
    """Conditions on one item and its enrichment. All conditions given in one mapping must
    hold; ``any``/``all``/``not`` combine nested mappings."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    entity: OneOrMany | None = None  # 'any', a watched name, names, or "$list"
    topic: OneOrMany | None = None  # 'any', a topic, topics
    sentiment: Sentiment | list[Sentiment] | None = None
    severity_at_least: Severity | None = None
    source: OneOrMany | None = None  # source names from the config
    source_kind: OneOrMany | None = None  # rss, replay …
    keywords: Keywords | None = None
    engagement: Engagement | None = None
    author_in: OneOrMany | None = None  # author names or "$list"; compared as hashes
    macro: OneOrMany | None = None  # named conditions from `macros:`; each must hold
    any_: list[Match] | None = Field(None, alias="any")
    all_: list[Match] | None = Field(None, alias="all")
    not_: Match | None = Field(None, alias="not")


class Spike(BaseModel):
    """The rate in the last ``within`` is at least ``factor`` times the rate over the
    ``baseline`` before it, with at least ``min_count`` items."""

    model_config = STRICT
    factor: float = Field(gt=1)
    within: PositiveDuration
    baseline: PositiveDuration
    min_count: int = Field(3, ge=1)


class Flatline(BaseModel):
    """Nothing (matching) from a source or about a topic for ``silent_for``."""

    model_config = STRICT
    silent_for: PositiveDuration


class Threshold(BaseModel):
    """Exactly one of: ``count`` (with ``within``), ``spike``, ``new_story``, ``flatline``."""

    model_config = STRICT
    count: int | None = Field(None, ge=1)
    within: PositiveDuration | None = None
    spike: Spike | None = None
    new_story: bool = False
    flatline: Flatline | None = None
    per: GroupBy = "entity"

    @model_validator(mode="after")
    def _one_kind(self) -> Threshold:
        kinds = [k for k, on in (("count", self.count is not None), ("spike", self.spike),
                                 ("new_story", self.new_story), ("flatline", self.flatline)) if on]
        if len(kinds) != 1:
            raise ValueError("threshold 需要且只能写 count、spike、new_story、flatline 其中之一")
        if self.count is not None and self.within is None:
            raise ValueError("count 需要同时写 within（例如 within: 1h）")
        if self.within is not None and self.count is None:
            raise ValueError("within 只能与 count 一起使用")
        if self.flatline and self.per not in ("source", "topic"):
            raise ValueError("flatline 只能按 source 或 topic 分组（per: source / per: topic）")
        if self.new_story and self.per != "story":
            raise ValueError("new_story 需要 per: story")
        return self

    @property
    def kind(self) -> str:
        if self.count is not None:
            return "count"
        if self.spike:
            return "spike"
        return "new_story" if self.new_story else "flatline"


class VigilanceOverride(BaseModel):
    """What changes while the vigilance level is raised (key dates)."""

    model_config = STRICT
    count: int | None = Field(None, ge=1)
    within: PositiveDuration | None = None
    factor: float | None = Field(None, gt=1)
    severity: Severity | None = None
    ack_within_factor: float | None = Field(None, gt=0, le=1)  # shortens incident deadlines


class Deadlines(BaseModel):
    """Report-within-time (重大事件报告制度): how long an incident may wait for each step.
    ``first_report``/``final_report`` count from opening; ``follow_up_every`` from the last
    report until the final one; ``ack_within`` caps every chain level's own ``ack_within``."""

    model_config = STRICT
    ack_within: PositiveDuration | None = None
    first_report: PositiveDuration | None = None
    follow_up_every: PositiveDuration | None = None
    final_report: PositiveDuration | None = None

    @model_validator(mode="after")
    def _order(self) -> Deadlines:
        if self.first_report and self.final_report and self.final_report < self.first_report:
            raise ValueError("final_report（终报时限）不能早于 first_report（首报时限）")
        return self


class IncidentAction(BaseModel):
    model_config = STRICT
    severity: Severity
    chain: NonEmptyStr
    deadlines: Deadlines | None = None  # field by field over the severity's `deadlines:`
    quiet_after: PositiveDuration | None = None  # acknowledged and quiet this long: settle
    when_quiet: Literal["close", "downgrade"] = "close"


class NotifyAction(BaseModel):
    """Send a plain notification (no incident) to roles and/or channels."""

    model_config = STRICT
    role: OneOrMany | None = None
    channel: OneOrMany | None = None

    @model_validator(mode="after")
    def _someone(self) -> NotifyAction:
        if not self.role and not self.channel:
            raise ValueError("notify 需要 role 或 channel")
        return self


DEFAULT_WATCH = 24 * 3600.0
DEFAULT_SUMMARY_EVERY = 4 * 3600.0


class WatchSpec(BaseModel):
    """Track (跟踪) the group for a while: collect its new items, send a summary every
    ``summary_every``, a closing summary at the end. Written ``watch: 24h`` or in full."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    duration: PositiveDuration = Field(DEFAULT_WATCH, alias="for")
    summary_every: PositiveDuration = DEFAULT_SUMMARY_EVERY
    notify: OneOrMany | None = None  # roles; default: the rule's notify roles
    max_for: PositiveDuration | None = None  # activity extends up to this; default 3 × for

    @property
    def longest(self) -> float:
        return max(self.max_for or 3 * self.duration, self.duration)


def _watch_scalar(value: object) -> object:
    """``watch: 24h`` is ``watch: {for: 24h}``."""
    return value if isinstance(value, dict | WatchSpec) or value is None else {"for": value}


class Then(BaseModel):
    model_config = STRICT
    incident: IncidentAction | None = None
    notify: NotifyAction | None = None
    watch: Annotated[WatchSpec, BeforeValidator(
        _watch_scalar, json_schema_input_type=PositiveDuration | WatchSpec)] | None = None
    tag: Words = []
    report: Literal["weekly", "duty"] | None = None

    @model_validator(mode="after")
    def _some_action(self) -> Then:
        if not (self.incident or self.notify or self.watch or self.tag or self.report):
            raise ValueError("then 至少需要一个动作: incident、notify、watch、tag、report")
        return self


class Rule(BaseModel):
    model_config = STRICT
    id: str = Field(pattern=RULE_ID_PATTERN)  # a stable key: windows and incidents hang on it
    title: NonEmptyStr
    description: str = ""
    enabled: bool = True
    match: Match | None = None
    threshold: Threshold | None = None  # none: every matching item fires
    schedule: ScheduleExpr | None = None  # instead of match/threshold: fires on a timetable
    vigilance: dict[Literal["elevated", "high"], VigilanceOverride] = {}
    only_on: list[NonEmptyStr] = []  # key-date names (or 'any'): fire only on those days
    except_on: list[NonEmptyStr] = []  # key-date names (or 'any'): never on those days
    cooldown: Duration | None = None  # after firing without an incident, quiet this long
    then: Then

    @model_validator(mode="after")
    def _shape(self) -> Rule:
        if self.schedule is not None and (self.match is not None or self.threshold is not None):
            raise ValueError("schedule 规则不能同时写 match 或 threshold")
        if self.schedule is None and self.then.report:
            raise ValueError("report 动作只能用于 schedule 规则")
        return self


class RuleOverride(BaseModel):
    """Local tuning of a rule from another file, without copying it."""

    model_config = STRICT
    enabled: bool | None = None
    threshold: Threshold | None = None
    vigilance: dict[Literal["elevated", "high"], VigilanceOverride] | None = None
    only_on: list[NonEmptyStr] | None = None
    except_on: list[NonEmptyStr] | None = None
    cooldown: Duration | None = None
    then: Then | None = None


class ChainLevel(BaseModel):
    """One rung of an escalation ladder: who is told, and how long they have to acknowledge."""

    model_config = STRICT
    notify: NonEmptyStr  # a role from the config's roles:
    ack_within: PositiveDuration | None = None
    repeat_every: PositiveDuration | None = None
    # How many times the last level is reminded again; unset: until someone acknowledges.
    repeat_times: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _times_need_every(self) -> ChainLevel:
        if self.repeat_times is not None and self.repeat_every is None:
            raise ValueError("repeat_times 需要同时写 repeat_every（每隔多久重复提醒）")
        return self


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


class TestExpectation(BaseModel):
    """One expected outcome: an incident, a notification, or that nothing fired."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    incident: NonEmptyStr | None = None  # rule id
    key: str | None = None
    severity: Severity | None = None
    notification: NonEmptyStr | None = None  # rule id
    level: int | None = None
    role: str | None = None
    kind: str | None = None  # event kind, e.g. incident.escalated
    at: dt.datetime | None = None
    nothing: bool = False


class RuleTest(BaseModel):
    model_config = STRICT
    name: NonEmptyStr
    at: dt.datetime  # when the test's clock starts (with offset)
    until: Duration | None = None  # how long to run after the last event (default 1h)
    events: list[dict] = []  # simulate input lines; "after: 10m" instead of "at" is allowed
    expect: Annotated[list[TestExpectation], Field(min_length=1)]
    exact: bool = False  # when true, no incident or notification beyond those expected


class RuleFile(BaseModel):
    model_config = STRICT
    lists: dict[NonEmptyStr, Words | Append] = {}
    macros: dict[NonEmptyStr, Match] = {}  # named, reusable match conditions (like Falco's)
    watchlist: Watchlist = Watchlist()
    calendar: list[KeyDateSpec] = []
    chains: dict[
        NonEmptyStr, Annotated[list[ChainLevel], Field(min_length=1), AfterValidator(_ladder)]
    ] = {}
    deadlines: dict[Severity, Deadlines] = {}  # per severity, merged across files like chains
    rules: list[Rule] = []
    overrides: dict[NonEmptyStr, RuleOverride] = {}
    tests: list[RuleTest] = []
