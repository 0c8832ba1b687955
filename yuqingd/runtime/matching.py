"""Rules at run time: windows and thresholds, key dates and vigilance, actions, and the parts that
run on time alone (flatline, schedules; watches are :mod:`yuqingd.runtime.watches`). The daemon
owns all of this state, in the store; the engine only says which rules match an item.

Semantics (documented for policy staff in docs/rule-language.md):

- ``count: N, within: W`` — N matching items for one key within the last W (inclusive), sliding.
- ``spike`` — the last ``within`` holds at least ``min_count`` items and its rate is at least
  ``factor`` times the rate over the ``baseline`` just before it.
- ``new_story`` — the first item of a new story matches.
- ``flatline`` — no matching item for a key (source or topic) for ``silent_for``; fires once per
  silence, and again only after activity resumes and stops again.
- no threshold — every matching item fires, keyed by the watched name (or, for an item that
  names none, by its story).
- While an incident of the rule is open for a key, matches attach to it; rules without an
  incident stay quiet for ``cooldown`` (default: the window, or 1h) after firing for a key.
- ``only_on`` / ``except_on`` gate firing on key dates; ``vigilance`` overrides the threshold and
  severity while the day's vigilance is elevated or high (high falls back to elevated's).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog

from yuqingd.events import Events
from yuqingd.model import Item
from yuqingd.rules.compiler import CompiledRule
from yuqingd.rules.engine import Matcher, make_matcher
from yuqingd.rules.loader import RuleSet
from yuqingd.rules.model import Rule
from yuqingd.runtime.incidents import Escalation
from yuqingd.runtime.outreach import Outreach
from yuqingd.runtime.reports import Reports
from yuqingd.runtime.watches import Watches, WatchRequest
from yuqingd.store.api import IncidentRow, Store
from yuqingd.time.clock import Clock

if TYPE_CHECKING:  # types only: the pipeline runs the rules, not the other way round
    from yuqingd.pipeline.enrich import Analysis

log = structlog.get_logger("yuqingd.rules")

# Float epoch arithmetic must not drop an item that arrived exactly ``within`` ago.
WINDOW_EPSILON = 1e-6
DEFAULT_COOLDOWN = 3600.0


@dataclass(frozen=True)
class Effective:
    """A rule's threshold and severity as they apply now (after vigilance overrides)."""

    count: int | None
    within: float | None
    factor: float | None
    severity: str | None
    vigilance: str
    deadline_factor: float | None = None  # ack_within_factor: scales the incident's deadlines


class RuleRunner:
    def __init__(self, store: Store, clock: Clock, escalation: Escalation, outreach: Outreach,
                 events: Events, engine: str | None = None, reports: Reports | None = None):
        self.store = store
        self.clock = clock
        self.escalation = escalation
        self.outreach = outreach
        self.events = events
        self.engine = engine
        self.reports = reports
        self.ruleset: RuleSet | None = None
        self.matcher: Matcher | None = None
        self.sources: dict[str, str] = {}
        self.started_at: float | None = None  # silences count from here at the earliest
        self.watches = Watches(store, clock, outreach, events)  # a Timed part of its own

    def set_rules(self, ruleset: RuleSet, sources: dict[str, str], now: float) -> None:
        """Swap in a (re)loaded rule set (``sources``: name → kind). Windows, firings and
        watches live in the store, keyed by rule id, so rules that remain keep their state;
        removed rules stop matching. Nothing changes if the matcher cannot be built."""
        matcher = self.matcher
        if self.ruleset is None or self.ruleset.rules != ruleset.rules or matcher is None:
            # durable-rules leaks each ruleset it builds: build only when rules change.
            # Schedule rules fire on their timetable only, never on items.
            matcher = make_matcher(
                [(r.id, r.condition) for r in ruleset.rules if r.rule.schedule is None],
                self.engine)
        self.matcher = matcher
        self.ruleset = ruleset
        self.sources = sources
        if self.started_at is None:
            self.started_at = now
        with self.store.transaction():
            for cr in self._flatline_rules():
                for key in self._flatline_keys(cr):
                    if self.store.last_activity(f"rule:{cr.id}", key) is None:
                        self.store.touch_activity(f"rule:{cr.id}", key, now)  # watching since
            for cr in self._schedule_rules():
                if self.store.schedule_last(cr.id) is None:
                    self.store.set_schedule_last(cr.id, now)

    # items --------------------------------------------------------------------------------

    def on_item(self, item: Item, analysis: Analysis, at: float, now: float,
                story_id: int | None, new_story: bool) -> bool:
        """Match one stored item (inside the caller's transaction); True when a rule fired
        (something may now be due earlier: deadlines, watches)."""
        assert self.ruleset is not None and self.matcher is not None
        if analysis.enrichment.excluded_by:
            return False
        watch_moved = self.watches.on_item(
            item, [hit.entity for hit in analysis.enrichment.entities],
            analysis.enrichment.topics, story_id, now)
        return self._match(item, analysis, at, now, story_id, new_story) or watch_moved

    def _match(self, item: Item, analysis: Analysis, at: float, now: float,
               story_id: int | None, new_story: bool) -> bool:
        assert self.matcher is not None and self.ruleset is not None
        matched: dict[tuple[str, str], CompiledRule] = {}
        for features in analysis.facts():
            for rule_id in self.matcher.match(features):
                cr = self.ruleset.rule(rule_id)
                assert cr is not None
                story = str(story_id) if story_id is not None else None
                for key in group_keys(cr, features.entity, analysis.enrichment.topics,
                                      item.source, story):
                    matched.setdefault((rule_id, key), cr)
        fired = False
        for (_, key), cr in matched.items():
            fired = self._on_match(cr, key, item, at, now, new_story) or fired
        return fired

    def _on_match(self, cr: CompiledRule, key: str, item: Item, at: float, now: float,
                  new_story: bool) -> bool:
        """Count one match; True when the rule fired."""
        rule = cr.rule
        threshold = rule.threshold
        if threshold and threshold.flatline:
            previous = self.store.last_activity(f"rule:{rule.id}", key)
            self.store.touch_activity(f"rule:{rule.id}", key, now)
            active = self.store.active_incident(rule.id, key)
            if active and active.status == "acknowledged":  # the silence is over
                self.escalation.close(active.id, now, note="信息源/主题恢复活动，自动关闭")
            fired = self.store.last_firing(rule.id, key)
            # After a reported silence the key is watched again: the scheduler must re-plan.
            return (fired is not None and previous is not None
                    and fired >= previous + threshold.flatline.silent_for)
        self.store.add_hit(rule.id, key, item, at)
        if rule.then.incident:
            active = self.store.active_incident(rule.id, key)
            if active and not self._settled(active, now, rule):
                self.store.attach_item(active.id, item.source, item.id, now)
                log.info("incident.item_attached", incident=active.id, rule=rule.id, key=key)
                return False
        params = self.effective(rule, now)
        if not rule.then.incident and self._cooling(rule, key, now, params):
            return False
        if not self.on_key_date(rule, now):
            return False
        if not self._holds(rule, params, key, now, new_story):
            return False
        since = self._window_start(rule, key, now - (params.within or 0) - WINDOW_EPSILON)
        window = self.store.hits_in_window(rule.id, key, since) if params.within else [
            (item.source, item.id, at)]
        self._fire(cr, key, now, params, window, item.source)
        return True

    def _window_start(self, rule: Rule, key: str, since: float) -> float:
        """Items already handled by a closed incident of this rule and key count no more (an
        item arriving at the very moment of closing, the one that closed it, does)."""
        closed = self.store.last_closed(rule.id, key) if rule.then.incident else None
        return max(since, closed) if closed is not None else since

    def _settled(self, incident: IncidentRow, now: float, rule: Rule) -> bool:
        """An acknowledged incident quiet for ``quiet_after`` (default: a whole window) is
        over: close it (or downgrade it, ``when_quiet: downgrade``), so a later burst opens a
        new incident instead of vanishing into the old one. True when it was closed."""
        if incident.status != "acknowledged":
            return False
        action = rule.then.incident
        assert action is not None
        quiet = action.quiet_after or (
            rule.threshold.within if rule.threshold and rule.threshold.within
            else DEFAULT_COOLDOWN)
        return self.escalation.settle_quiet(incident, now, quiet, action.when_quiet)

    def _cooling(self, rule: Rule, key: str, now: float, params: Effective) -> bool:
        cooldown = rule.cooldown if rule.cooldown is not None else (
            params.within or DEFAULT_COOLDOWN)
        last = self.store.last_firing(rule.id, key)
        return last is not None and now - last < cooldown

    def _holds(self, rule: Rule, params: Effective, key: str, now: float,
               new_story: bool) -> bool:
        threshold = rule.threshold
        if threshold is None:
            return True
        if threshold.count is not None:
            assert params.within is not None and params.count is not None
            since = self._window_start(rule, key, now - params.within - WINDOW_EPSILON)
            return self.store.count_hits(rule.id, key, since) >= params.count
        if threshold.spike:
            spike = threshold.spike
            edge = now - spike.within - WINDOW_EPSILON
            recent = self.store.count_hits(rule.id, key, edge)
            base = self.store.count_hits(rule.id, key, edge - spike.baseline, before=edge)
            return recent >= spike.min_count and (
                recent / spike.within >= (params.factor or spike.factor) * base / spike.baseline)
        return bool(threshold.new_story and new_story)

    def effective(self, rule: Rule, now: float) -> Effective:
        level = self.ruleset.calendar.vigilance_on(self._day(now)) if self.ruleset else "normal"
        override = None
        if level == "high":
            override = rule.vigilance.get("high") or rule.vigilance.get("elevated")
        elif level == "elevated":
            override = rule.vigilance.get("elevated")
        t = rule.threshold
        base_severity = rule.then.incident.severity if rule.then.incident else None
        return Effective(
            count=(override and override.count) or (t.count if t else None),
            within=(override and override.within) or (t.within if t else None),
            factor=(override and override.factor) or (t.spike.factor if t and t.spike else None),
            severity=(override and override.severity) or base_severity,
            vigilance=level,
            deadline_factor=override.ack_within_factor if override else None,
        )

    def on_key_date(self, rule: Rule, now: float) -> bool:
        """Whether ``only_on`` / ``except_on`` let the rule fire today."""
        if not rule.only_on and not rule.except_on:
            return True
        assert self.ruleset is not None
        names = {k.name for k in self.ruleset.calendar.active_on(self._day(now))}

        def hits(wanted: list[str]) -> bool:
            return bool(names) and ("any" in wanted or bool(names & set(wanted)))

        if rule.only_on and not hits(rule.only_on):
            return False
        return not (rule.except_on and hits(rule.except_on))

    def _day(self, epoch: float) -> dt.date:
        return self.clock.to_datetime(epoch).date()

    # actions ------------------------------------------------------------------------------

    def _fire(self, cr: CompiledRule, key: str, now: float, params: Effective,
              window: list[tuple[str, str, float]], source: str | None = None) -> str | None:
        """Act on a firing. ``source``: that of the item being handled, if an item fired it
        (a silence of that source mutes what the firing sends)."""
        rule, then = cr.rule, cr.rule.then
        self.store.add_firing(rule.id, key, now)
        self.events.emit("rule.fired", now, rule=rule.id, key=key, items=len(window),
                         vigilance=params.vigilance)
        log.info("rule.fired", rule=rule.id, key=key, items=len(window),
                 vigilance=params.vigilance)
        incident = None
        if then.incident and self.store.active_incident(rule.id, key):
            # Time-driven firings (flatline) while the last incident for this key is still
            # open: the open incident already tells people; do not open a second one.
            log.info("rule.incident_already_open", rule=rule.id, key=key)
        elif then.incident:
            incident = self.escalation.open(rule, key, window, now, severity=params.severity,
                                            factor=params.deadline_factor, source=source)
        if then.notify:
            self._notify(cr, key, now, window, source)
        if then.watch:
            self._start_watch(cr, key, now, window)
        for tag in then.tag:
            for source, item_id, _ in window:
                self.store.tag_item(source, item_id, tag)
        return incident

    def _notify(self, cr: CompiledRule, key: str, now: float,
                window: list[tuple[str, str, float]], source: str | None) -> None:
        """A plain notification from a rule (no incident): to each role's channels and to
        the named channels."""
        rule = cr.rule
        items = []
        for item_source, item_id, _ in window[-5:]:
            row = self.store.item(item_source, item_id)
            if row:
                items.append(self.outreach.item(row.title, row.url, row.source, row.fetched_at))
        lines = [f"【舆情提醒】{rule.title}"]
        if key:
            lines.append(f"对象：{key}")
        if window:
            lines.append(f"相关信息：{len(window)} 条")
            lines += [f"- {i.title} {i.url}".rstrip() for i in items]
        lines.append(f"时间：{self.clock.format(now)}")
        # The tag makes the id unique per firing: two within one second stay two.
        tag = f"{now:.0f}:{window[-1][1] if window else 'time'}"
        self.outreach.send(kind="rule.notify", ident=f"{rule.id}:{key}",
                           roles=cr.notify_roles, channels=cr.notify_channels,
                           text="\n".join(lines), at=now, tag=tag, title=rule.title,
                           rule=rule.id, key=key, items=items, source=source)

    def _start_watch(self, cr: CompiledRule, key: str, now: float,
                     window: list[tuple[str, str, float]]) -> None:
        rule, spec = cr.rule, cr.rule.then.watch
        assert spec is not None
        if rule.threshold:
            kind = rule.threshold.per
        else:  # keyed by the watched name, or by the story for an item naming none
            names = {e.name for e in self.ruleset.entities} if self.ruleset else set()
            kind = "entity" if key in names else "story"
        # Summaries go to the watch's own roles, else the rule's notify targets, else the
        # first level of its incident chain.
        roles: tuple[str, ...] = cr.watch_roles
        channels: tuple[str, ...] = ()
        if not roles:
            roles, channels = cr.notify_roles, cr.notify_channels
        if not roles and not channels and rule.then.incident:
            chain = self.escalation.chains.get(rule.then.incident.chain) or ()
            roles = tuple(level.notify for level in chain[:1])
        self.watches.start(WatchRequest(
            kind=kind, key=key, title=rule.title, duration=spec.duration,
            summary_every=spec.summary_every, longest=spec.longest, roles=tuple(roles),
            channels=tuple(channels), rule=rule.id), now, list(window))

    # time-driven: flatline, schedules ---------------------------------------------------

    def _flatline_rules(self) -> list[CompiledRule]:
        return [cr for cr in (self.ruleset.rules if self.ruleset else ())
                if cr.rule.threshold and cr.rule.threshold.flatline]

    def _schedule_rules(self) -> list[CompiledRule]:
        return [cr for cr in (self.ruleset.rules if self.ruleset else ()) if cr.rule.schedule]

    def _flatline_keys(self, cr: CompiledRule) -> list[str]:
        assert cr.rule.threshold is not None
        if cr.rule.threshold.per == "source":
            names = cr.sources or self.sources
            return sorted(n for n in names if cr.kinds is None or self.sources.get(n) in cr.kinds)
        return sorted(cr.topics or (self.ruleset.topics if self.ruleset else ()))

    def _flatline_due(self) -> list[tuple[float, CompiledRule, str, float]]:
        """(due, rule, key, silent since) for every watched key not yet reported silent."""
        out = []
        for cr in self._flatline_rules():
            assert cr.rule.threshold is not None and cr.rule.threshold.flatline is not None
            silent_for = cr.rule.threshold.flatline.silent_for
            for key in self._flatline_keys(cr):
                last = self.store.last_activity(f"rule:{cr.id}", key)
                if last is None:
                    continue
                fired = self.store.last_firing(cr.id, key)
                if fired is not None and fired >= last + silent_for:
                    continue  # already reported this silence
                # After a restart, silences count from the start: sources need time to poll.
                since = max(last, self.started_at or last)
                out.append((since + silent_for, cr, key, last))
        return out

    def _schedule_due(self) -> list[tuple[float, CompiledRule]]:
        out = []
        for cr in self._schedule_rules():
            last = self.store.schedule_last(cr.id)
            if last is not None:
                assert cr.rule.schedule is not None
                out.append((cr.rule.schedule.next_after(self.clock.to_datetime(last))
                            .timestamp(), cr))
        return out

    def next_due(self) -> float | None:
        times = [due for due, *_ in self._flatline_due()]
        times += [due for due, _ in self._schedule_due()]
        return min(times, default=None)

    def fire_due(self, now: float) -> bool:
        """Act on everything due at ``now``; True when something was written."""
        if self.ruleset is None:
            return False
        acted = False
        with self.store.transaction():
            for due, cr, key, since in sorted(self._flatline_due(), key=lambda d: d[0]):
                if due <= now and self.on_key_date(cr.rule, now):
                    self.events.emit("flatline", now, rule=cr.id, key=key,
                                     silent_since=self.clock.format(since))
                    self._fire(cr, key, now, self.effective(cr.rule, now), [])
                    acted = True
                elif due <= now:
                    self.store.add_firing(cr.id, key, now)  # gated today: this silence is over
            for due, cr in sorted(self._schedule_due(), key=lambda d: d[0]):
                if due > now:
                    continue
                # Missed while down: fire once now, not once per missed slot.
                self.store.set_schedule_last(cr.id, now)
                if self.on_key_date(cr.rule, now):
                    self._scheduled(cr, now)
                    acted = True
        return acted

    def _scheduled(self, cr: CompiledRule, now: float) -> None:
        rule = cr.rule
        self.store.add_firing(rule.id, "", now)
        self.events.emit("rule.fired", now, rule=rule.id, key="", schedule=str(rule.schedule))
        if rule.then.report:
            # Made, kept and sent to the rule's notify roles/channels; emits `report`.
            assert self.reports is not None
            self.reports.scheduled(cr, now)
        elif rule.then.notify:
            self._notify(cr, "", now, [], None)


def group_keys(cr: CompiledRule, entity: str, topics: tuple[str, ...], source: str,
               story: str | None) -> list[str]:
    """The keys a matching fact counts under (its windows, incidents and cool-downs)."""
    if cr.rule.threshold is None:
        # Every matching item fires: keyed by the watched name, or by the story for an item
        # that names none (so a keyword-only rule fires too, once per story).
        return [entity] if entity else [story] if story is not None else []
    per = cr.rule.threshold.per
    if per == "entity":
        return [entity] if entity else []
    if per == "topic":
        return [t for t in topics if cr.topics is None or t in cr.topics]
    if per == "story":
        return [story] if story is not None else []
    return [source]
