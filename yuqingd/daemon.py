"""The root of the running daemon: start subsystems, READY, signals, reload, drain."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import structlog
import trio
import trio.lowlevel

from yuqingd import commands
from yuqingd.config import Config, load_config
from yuqingd.control import ControlServer
from yuqingd.delivery.outbox import ChannelWorker, Delivery
from yuqingd.events import Events
from yuqingd.located import ConfigError, LocatedError
from yuqingd.log import configure_logging
from yuqingd.pipeline.privacy import load_salt
from yuqingd.pipeline.stage import Pipeline
from yuqingd.plugins import Plugins
from yuqingd.runtime.expectations import Expectations
from yuqingd.runtime.incidents import Escalation
from yuqingd.runtime.matching import RuleRunner
from yuqingd.runtime.reports import Reports, source_health
from yuqingd.runtime.silences import Silences
from yuqingd.scheduler import Scheduler
from yuqingd.store import Store, open_store
from yuqingd.supervisor import SourceSupervisor
from yuqingd.systemd import SystemdNotifier
from yuqingd.time.clock import Clock

log = structlog.get_logger("yuqingd.daemon")

PIPELINE_BUFFER = 256
CLOCK_RESYNC_EVERY = 60.0


class Daemon:
    """One running yuqingd. ``run`` starts everything and returns after a clean shutdown."""

    def __init__(
        self,
        config: Config,
        plugins: Plugins,
        *,
        clock: Clock | None = None,
        notifier: SystemdNotifier | None = None,
        http: httpx.AsyncClient | None = None,
        events: Events | None = None,
        database: Path | None = None,
        simulation: bool = False,
    ):
        """``simulation``: no control socket, sources, delivery or systemd; the caller feeds
        items and actions (``yuqingd simulate`` and ``test-rules``)."""
        self.config = config
        self.events = events or Events()
        self.database = database or config.database
        self.simulation = simulation
        self.engine = None if config.file.engine == "auto" else config.file.engine
        self.plugins = plugins
        self.clock = clock or Clock(config.file.timezone)
        self.sd = notifier or SystemdNotifier()
        self._http = http
        self.store: Store | None = None
        self.reload_error: str | None = None
        self.reload_errors: list[str] = []
        self.started = trio.Event()
        self._stop = trio.Event()
        self._reload_lock = trio.Lock()

    # public controls (tests call these; signals map onto them) -----------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def reload(self) -> bool:
        """Re-read config and rules; on any error keep what runs and say why. Reloads are
        serialised, and a reload that cannot be applied whole is not applied at all."""
        async with self._reload_lock:
            self.sd.reloading()
            try:
                new = load_config(self.config.path, self.plugins)
                self._check_reloadable(new)
                await self._apply(new)
            except ConfigError as exc:
                self.reload_error = f"重新加载失败，继续使用原配置：{len(exc.errors)} 处错误"
                self.reload_errors = [str(e) for e in exc.errors]
                for error in exc.errors:
                    log.error("reload.config_error", error=str(error))
                log.error("reload.rejected", errors=len(exc.errors))
            else:
                self.reload_error = None
                self.reload_errors = []
                log.info("reload.done", rules=len(new.ruleset.rules), sources=len(new.sources))
            self.sd.notify("READY=1", f"STATUS={self.status_line()}")
            return self.reload_error is None

    def _check_reloadable(self, new: Config) -> None:
        """Refuse what a reload cannot change safely, with the reason."""
        path = str(new.path)
        problems = [
            LocatedError(path, 1, 1, f"{what} 的修改需要重启服务才能生效（{old} → {now}）")
            for what, old, now in (
                ("state_dir", self.config.state_dir, new.state_dir),
                ("control_socket", self.config.control_socket, new.control_socket),
                ("timezone", self.config.file.timezone, new.file.timezone),
            )
            if old != now
        ]
        assert self.store is not None
        for incident in self.store.incidents():
            if incident.status == "closed":
                continue
            for step in incident.chain:
                if not new.directory(self.clock).knows(step["notify"]):
                    problems.append(
                        LocatedError(
                            path,
                            1,
                            1,
                            (
                                f"角色 '{step['notify']}' 已从 roles 删除，"
                                f"但未关闭的事件 {incident.id} 的升级链仍要通知它"
                            ),
                        )
                    )
        # Check-ins and submissions still climbing their ladders need their roles too.
        directory = new.directory(self.clock)
        for row in self.store.expectations():
            if row.next_at is None:
                continue
            for ladder_step in row.ladder[row.level:]:
                for role in ladder_step.roles:
                    if not directory.knows(role):
                        problems.append(LocatedError(path, 1, 1, (
                            f"角色 '{role}' 已从配置删除，但尚未办结的 {row.title}"
                            f"（{row.subject}）仍要通知它")))
        if problems:
            raise ConfigError(problems)

    # running ------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.clock.start()
        _create_private(self.database)
        self.store = open_store(self.database)
        self.escalation = Escalation(self.store, self.clock, self.events)
        self.reports = Reports(self.store, self.clock, self.escalation, self.events)
        if not self.simulation:
            self.reports.health = lambda: source_health(self._sources)
        self.runner = RuleRunner(
            self.store, self.clock, self.escalation, self.events, engine=self.engine,
            reports=self.reports,
        )
        self.watches = self.runner.watches
        self.silences = self.runner.silences = self.escalation.silences = Silences(
            self.store, self.clock, self.events)
        self.delivery = Delivery(self.store, self.clock)
        self.expectations = Expectations(self.store, self.clock, self.escalation, self.events)
        self.scheduler = Scheduler(
            self.clock,
            [self.escalation, self.runner, self.watches, self.expectations, self.reports],
            self.delivery.wake,
        )
        self.pipeline = Pipeline(self.store, self.clock, self.runner, self._after_incident,
                                 salt=load_salt(self.database.parent),
                                 enrichers=tuple(self.plugins.enrichers()))
        self._send, receive = trio.open_memory_channel(PIPELINE_BUFFER)
        http = self._http or httpx.AsyncClient(
            timeout=httpx.Timeout(20.0, connect=10.0),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=True,
            headers={"User-Agent": "yuqingd"},
        )
        self.http = http
        try:
            async with trio.open_nursery() as core:
                self._core = core
                if not self.simulation:
                    await core.start(ControlServer(self.config.control_socket, self.handle).run)
                self._sources: SourceSupervisor | None = None
                self.pipeline_done = trio.Event()
                core.start_soon(self._run_pipeline, receive)
                await self._apply(self.config)
                # After _apply: deadlines that fell due while down need the roles to notify.
                await core.start(self.scheduler.run)
                if not self.simulation:
                    await core.start(self.sd.run)
                    core.start_soon(self._status_loop)
                    core.start_soon(self._resync_clock)
                    self.sd.ready(self.status_line())
                log.info(
                    "daemon.ready",
                    sources=len(self.config.sources),
                    rules=len(self.config.ruleset.rules),
                    db=str(self.database),
                )
                self.started.set()
                task_status.started()
                await self._stop.wait()
                await self._shutdown()
                core.cancel_scope.cancel()
        finally:
            if self._http is None:
                with trio.CancelScope(shield=True):
                    await http.aclose()
            self.store.close()

    async def _run_pipeline(self, receive) -> None:
        await self.pipeline.run(receive)
        self.pipeline_done.set()

    async def _apply(self, config: Config) -> None:
        """Make ``config`` the running one: rules, roles, notifiers and sources. Notifiers and
        the rule matcher are built first, so a failure there leaves everything as it was."""
        old = self.config
        workers = {} if self.simulation else self._build_workers(config)
        try:
            self.pipeline.set_rules(config.ruleset, {s.name: s.kind for s in config.sources})
        except Exception as exc:  # e.g. engine: durable where durable-rules cannot import
            raise ConfigError(
                [
                    LocatedError(
                        str(config.path),
                        1,
                        1,
                        f"规则无法加载到匹配引擎: {type(exc).__name__}: {exc}",
                    )
                ]
            ) from exc
        self.config = config
        if config.file.log != old.file.log:
            configure_logging(config.file.log.format, config.file.log.level)
        self.escalation.configure(config.directory(self.clock), config.ruleset.chains,
                                 config.ruleset.deadlines)
        self.expectations.configure(config.roster, config.submissions, self.clock.time())
        self.reports.configure(config, self.clock.time())
        self.scheduler.changed.set()  # schedules, flatlines and watches may have changed
        await self._replace_workers(workers)
        if self.simulation:
            return
        if self._sources is None or config.sources != old.sources:
            await self._restart_sources(config)
        else:
            self._sources.stall_after = config.file.supervisor.stall_after
            self._sources.max_backoff = config.file.supervisor.max_backoff

    def _build_workers(self, config: Config) -> dict[str, ChannelWorker]:
        """Workers for ``config``: running ones kept where their notifier is unchanged."""
        workers, errors = {}, []
        settings = config.file.delivery
        for spec in config.notifiers:
            running = self.delivery.workers.get(spec.name)
            if running is not None and running.spec == spec:
                running.timeout, running.max_backoff = settings.timeout, settings.max_backoff
                workers[spec.name] = running
                continue
            try:
                notifier = config.notifier_kinds[spec.kind].create(spec)
            except Exception as exc:  # a plugin that cannot build must not take us down
                errors.append(
                    LocatedError(
                        str(config.path),
                        1,
                        1,
                        (
                            f"通知渠道 '{spec.name}'（{spec.kind}）无法创建: "
                            f"{type(exc).__name__}: {exc}"
                        ),
                    )
                )
                continue
            assert self.store is not None
            workers[spec.name] = ChannelWorker(
                spec, notifier, self.store, self.clock, settings.timeout, settings.max_backoff,
                http=self.http,
            )
        if errors:
            raise ConfigError(errors)
        return workers

    async def _replace_workers(self, workers: dict[str, ChannelWorker]) -> None:
        """Retire workers no longer wanted (letting an in-flight send finish, so nothing is
        sent twice), then start the new ones."""
        retired = [w for name, w in self.delivery.workers.items() if workers.get(name) is not w]
        for worker in retired:
            worker.stop()
        for worker in retired:
            with trio.move_on_after(worker.timeout + 1):
                await worker.finished.wait()
            worker.cancel_scope.cancel()
        for worker in workers.values():
            if not worker.running:
                await self._core.start(worker.run)
        self.delivery.workers = workers

    async def _restart_sources(self, config: Config) -> None:
        if self._sources is not None:
            self._sources.stop()
        assert self.store is not None
        self._sources = SourceSupervisor(
            config.sources,
            config.source_kinds,
            send=self._send.clone(),
            store=self.store,
            clock=self.clock,
            http=self.http,
            stall_after=config.file.supervisor.stall_after,
            max_backoff=config.file.supervisor.max_backoff,
        )
        await self._core.start(self._sources.run)

    async def _shutdown(self) -> None:
        """Stop fetching, let the pipeline finish what it holds, deliver what is due — all
        within ``shutdown_grace``; whatever is left stays in the store for the next start."""
        self.sd.stopping()
        log.info("daemon.stopping", grace=self.config.file.shutdown_grace)
        with trio.move_on_after(self.config.file.shutdown_grace, shield=True) as scope:
            if self._sources is not None:
                self._sources.stop()
            await self._send.aclose()
            await self.pipeline_done.wait()
            self.scheduler.changed.set()  # incidents the drained items opened
            await trio.lowlevel.checkpoint()
            await self.delivery.drain()
        log.info(
            "daemon.stopped",
            drained=not scope.cancelled_caught,
            undelivered=self.store.undelivered_count() if self.store else None,
        )

    def _after_incident(self) -> None:
        self.scheduler.changed.set()
        self.delivery.wake()

    # control socket -----------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.started.is_set() or self._stop.is_set():
            return {"ok": False, "error": "yuqingd 正在启动或停止，请稍后再试"}
        command = request.get("command")
        if command == "reload":
            ok = await self.reload()
            return {"ok": ok, "error": self.reload_error, "errors": self.reload_errors}
        if command == "status":
            assert self.store is not None  # started
            return {
                "ok": True,
                "status": self.status_line(),
                "rules": [r.id for r in self.config.ruleset.rules],
                **self.health_report(),
                "incidents": [
                    {
                        "id": i.id,
                        "rule": i.rule_id,
                        "key": i.group_key,
                        "severity": i.severity,
                        "status": i.status,
                        "level": i.level,
                        "opened_at": self.clock.format(i.opened_at),
                    }
                    for i in self.store.incidents()
                ],
            }
        reply = commands.perform(self, str(command), request, self.clock.time())
        self._after_incident()  # a command may have settled or started deadlines
        return reply

    # status -------------------------------------------------------------------------------

    def health_report(self) -> dict[str, list[dict[str, Any]]]:
        """Every configured source and notifier with its health (``yuqingd sources``)."""
        sources = self._sources.health if self._sources else {}
        return {
            "sources": [h.as_dict(name, self.clock.format) for name, h in sources.items()],
            "notifiers": [w.health.as_dict(name, self.clock.format)
                          for name, w in self.delivery.workers.items()],
        }

    def status_line(self) -> str:
        health = self._sources.health if self._sources else {}
        healthy = sum(1 for h in health.values() if h.healthy)
        open_count = len(self.store.incidents("open")) if self.store else 0
        errors = [
            f"{name}: {h.last_error}"
            for name, h in health.items()
            if h.last_error and not h.healthy
        ]
        last = self.reload_error or (errors[0] if errors else None) or self.delivery.last_error
        text = (
            f"信息源 {healthy}/{len(health)} 正常，未确认事件 {open_count}，"
            f"已处理 {self.pipeline.processed} 条"
        )
        return text + (f"；最近错误：{last}" if last else "")

    async def _resync_clock(self) -> None:
        """Follow the wall clock when it is stepped (NTP at boot, suspend/resume)."""
        while True:
            await trio.sleep(CLOCK_RESYNC_EVERY)
            drift = self.clock.resync()
            if abs(drift) >= 1:
                log.warning("clock.adjusted", seconds=round(drift, 3))
                self.scheduler.changed.set()  # deadlines map to other trio times now
                self.delivery.wake()

    async def _status_loop(self) -> None:
        while True:
            self.sd.status(self.status_line())
            await trio.sleep(self.config.file.status_every)


def _create_private(path: Path) -> None:
    """Create ``path`` 0600 if missing: SQLite creates its database (and gives its -wal and
    -shm files the same mode) from the umask, 0644 by default."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


async def serve(config_path: Path, plugins: Plugins) -> None:
    """Run under signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop."""
    with trio.open_signal_receiver(signal.SIGHUP, signal.SIGTERM, signal.SIGINT) as signals:
        config = load_config(config_path, plugins)
        daemon = Daemon(config, plugins)
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)

            async for signum in signals:
                if signum == signal.SIGHUP:
                    log.info("signal.reload")
                    await daemon.reload()
                else:
                    log.info("signal.stop", signal=signal.Signals(signum).name)
                    daemon.request_stop()
                    break
        # STOPPING may still wait in a full notify queue: give the manager a moment to read it.
        with trio.move_on_after(2.0):
            await daemon.sd.flush()
        daemon.sd.close()
