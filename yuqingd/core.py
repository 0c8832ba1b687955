"""The core: the services of one yuqingd, built and wired in one place.

``yuqingd run`` (:mod:`yuqingd.daemon`, which adds the lifecycle: sources, delivery workers,
the control socket, signals, systemd), ``yuqingd simulate`` and ``yuqingd test-rules``
(:mod:`yuqingd.simulate`) all build the same :class:`Core`, so a simulated week runs exactly
the code a running daemon does. Command handlers (:mod:`yuqingd.commands`) receive it.

What lives here: which service gets which collaborator, how a (re)loaded config is handed to
them, what a reload may not change, and the status line. What does not: tasks, nurseries,
awaiting — the core is synchronous; the daemon runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from yuqingd.config import Config
from yuqingd.delivery.outbox import Delivery
from yuqingd.events import Events
from yuqingd.health import Health
from yuqingd.located import ConfigError, LocatedDocument, LocatedError, load_yaml
from yuqingd.pipeline.privacy import load_salt
from yuqingd.pipeline.stage import Pipeline
from yuqingd.plugins import Plugins
from yuqingd.runtime.expectations import Expectations
from yuqingd.runtime.incidents import Escalation
from yuqingd.runtime.matching import RuleRunner
from yuqingd.runtime.outreach import Outreach
from yuqingd.runtime.reports import Reports
from yuqingd.runtime.retention import Retention
from yuqingd.runtime.silences import Silences
from yuqingd.runtime.watches import Watches
from yuqingd.scheduler import Scheduler
from yuqingd.store import Store, open_store
from yuqingd.time.clock import Clock


class Core:
    """The wired services. Built by :func:`open_core`; :meth:`configure` applies a config."""

    def __init__(self, config: Config, plugins: Plugins, store: Store, clock: Clock,
                 events: Events, *, salt: bytes = b""):
        self.config = config
        self.plugins = plugins
        self.store = store
        self.clock = clock
        self.events = events
        engine = None if config.file.engine == "auto" else config.file.engine
        self.silences = Silences(store, clock, events)
        self.outreach = Outreach(store, clock, events, self.silences)
        self.escalation = Escalation(store, clock, self.outreach, events)
        self.reports = Reports(store, clock, self.outreach, events)
        self.runner = RuleRunner(store, clock, self.escalation, self.outreach, events,
                                 engine=engine, reports=self.reports)
        self.watches: Watches = self.runner.watches
        self.expectations = Expectations(store, clock, self.outreach, events)
        self.delivery = Delivery(store, clock, events)
        self.retention = Retention(store, clock, config.file.retention)
        self.scheduler = Scheduler(
            clock,
            [self.escalation, self.runner, self.watches, self.expectations, self.reports,
             self.retention],
            self.delivery.wake,
        )
        self.pipeline = Pipeline(store, clock, self.runner, self.changed, salt=salt,
                                 enrichers=tuple(plugins.enrichers()))
        # Set by the daemon: the live sources' health, and why the last reload was refused.
        self.source_health: Callable[[], Mapping[str, Health]] = dict
        self.reload_error: str | None = None
        # More for the status line from the daemon (plugins disabled or quarantined).
        self.status_notes: Callable[[], str] = str

    def changed(self) -> None:
        """Something may now be due earlier, or waits to be delivered."""
        self.scheduler.changed.set()
        self.delivery.wake()

    def configure(self, config: Config) -> None:
        """Make ``config`` the one the services use: rules, roles, roster, reports. The rule
        matcher is built first, so a rule set it cannot take changes nothing."""
        try:
            self.pipeline.set_rules(config.ruleset, {s.name: s.kind for s in config.sources})
        except Exception as exc:  # e.g. engine: durable where durable-rules cannot import
            raise ConfigError([LocatedError(
                str(config.path), 1, 1, f"规则无法加载到匹配引擎: {type(exc).__name__}: {exc}",
            )]) from exc
        self.config = config
        directory = config.directory(self.clock)
        self.outreach.configure(directory)
        self.delivery.fallback.configure(directory)
        self.escalation.configure(directory, config.ruleset.chains, config.ruleset.deadlines,
                                 config.file.office)
        self.expectations.configure(config.roster, config.submissions, self.clock.time())
        self.reports.configure(config, self.clock.time())
        self.retention.keep = config.file.retention
        self.scheduler.changed.set()  # schedules, flatlines and watches may have changed

    def perform(self, name: str, args: dict[str, Any], now: float) -> dict[str, Any]:
        """Run a person's command (the control socket's and simulate's path)."""
        from yuqingd import commands

        reply = commands.perform(self, name, args, now)
        self.changed()  # a command may have settled or started deadlines
        return reply

    def close(self) -> None:
        self.store.close()

    # reload policy --------------------------------------------------------------------------

    def reload_problems(self, new: Config) -> list[LocatedError]:
        """What a reload to ``new`` cannot change safely, with the reason (empty: it may)."""
        path = str(new.path)
        try:  # for the places: the file has just been read whole, so this cannot fail but race
            doc: LocatedDocument | None = load_yaml(new.path)
        except ConfigError:
            doc = None

        def at(loc: tuple[str, ...], message: str) -> LocatedError:
            return doc.at(loc, message, key=True) if doc else LocatedError(path, 1, 1, message)

        problems = [
            at((what,), f"{what} 的修改需要重启服务才能生效（{old} → {now}）")
            for what, old, now in (
                ("state_dir", self.config.state_dir, new.state_dir),
                ("control_socket", self.config.control_socket, new.control_socket),
                ("timezone", self.config.file.timezone, new.file.timezone),
            )
            if old != now
        ]
        directory = new.directory(self.clock)
        for incident in self.store.incidents():
            if incident.status == "closed":
                continue
            for step in incident.chain:
                if not directory.knows(step["notify"]):
                    problems.append(at(("roles",), (
                        f"角色 '{step['notify']}' 已从 roles 删除，"
                        f"但未关闭的事件 {incident.id} 的升级链仍要通知它")))
        # Check-ins and submissions still climbing their ladders need their roles too.
        for row in self.store.expectations():
            if row.next_at is None:
                continue
            for ladder_step in row.ladder[row.level:]:
                for role in ladder_step.roles:
                    if not directory.knows(role):
                        problems.append(at(("roles",), (
                            f"角色 '{role}' 已从配置删除，但尚未办结的 {row.title}"
                            f"（{row.subject}）仍要通知它")))
        return problems

    # status ---------------------------------------------------------------------------------

    def status_line(self) -> str:
        health = self.source_health()
        healthy = sum(1 for h in health.values() if h.healthy)
        open_count = len(self.store.incidents("open"))
        errors = [f"{name}: {h.last_error}" for name, h in health.items()
                  if h.last_error and not h.healthy]
        last = self.reload_error or (errors[0] if errors else None) or self.delivery.last_error
        text = (f"信息源 {healthy}/{len(health)} 正常，未确认事件 {open_count}，"
                f"已处理 {self.pipeline.processed} 条")
        return text + (f"；最近错误：{last}" if last else "") + self.status_notes()

    def health_report(self) -> dict[str, list[dict[str, Any]]]:
        """Every configured source and notifier with its health (``yuqingd sources``)."""
        return {
            "sources": [h.as_dict(name, self.clock.format)
                        for name, h in self.source_health().items()],
            "notifiers": [w.health.as_dict(name, self.clock.format)
                          for name, w in self.delivery.workers.items()],
        }

    def status(self) -> dict[str, Any]:
        """The ``yuqingd status`` reply."""
        return {
            "ok": True,
            "status": self.status_line(),
            "rules": [r.id for r in self.config.ruleset.rules],
            **self.health_report(),
            "incidents": [
                {"id": i.id, "rule": i.rule_id, "key": i.group_key, "severity": i.severity,
                 "status": i.status, "level": i.level,
                 "opened_at": self.clock.format(i.opened_at)}
                for i in self.store.incidents()
            ],
        }


def open_core(config: Config, plugins: Plugins, *, clock: Clock, events: Events,
              database: Path | None = None) -> Core:
    """Open the state database (migrating it) and build the services on it. The clock must
    be started (inside trio) before the core is configured."""
    database = database or config.database
    store = open_store(database)
    return Core(config, plugins, store, clock, events, salt=load_salt(database.parent))
