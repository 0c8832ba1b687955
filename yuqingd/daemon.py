"""The running daemon's lifecycle: nurseries, signals, READY/RELOADING/STOPPING, the drain.

The services themselves are built and wired by :mod:`yuqingd.core` (the same core ``yuqingd
simulate`` and ``test-rules`` run); this module adds what only a running service has: sources,
delivery workers, the control socket, systemd notifications and the clock resync.
"""

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

from yuqingd import quarantine
from yuqingd.config import Config, load_config
from yuqingd.control import ControlServer
from yuqingd.core import Core, open_core
from yuqingd.delivery.outbox import ChannelWorker, Delivery
from yuqingd.events import Events
from yuqingd.located import ConfigError, LocatedError
from yuqingd.log import configure_logging
from yuqingd.metrics import Meters, measure_loop_lag
from yuqingd.pipeline.stage import Pipeline
from yuqingd.plugins import Plugins
from yuqingd.quarantine import Quarantined
from yuqingd.runtime.reports import source_health
from yuqingd.scheduler import Scheduler
from yuqingd.signal_inbox import SignalInbox
from yuqingd.store import Store
from yuqingd.supervisor import SourceSupervisor
from yuqingd.systemd import SystemdNotifier
from yuqingd.time.clock import Clock
from yuqingd.watchdog import LoopWatchdog
from yuqingd.web.links import Links, load_key
from yuqingd.web.server import HttpServer

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
    ):
        self._config = config
        self.events = events or Events()
        self.database = database or config.database
        self.plugins = plugins
        self.clock = clock or Clock(config.file.timezone)
        self.sd = notifier or SystemdNotifier()
        self._http = http
        self.core: Core | None = None
        self.reload_errors: list[str] = []
        self.started = trio.Event()
        self._stop = trio.Event()
        self._reload_lock = trio.Lock()
        self._sources: SourceSupervisor | None = None
        # Plugins that blocked the event loop (yuqingd.quarantine): none of their parts run.
        self.quarantined: dict[str, Quarantined] = {}
        self._running_sources: tuple | None = None
        self.http_server: HttpServer | None = None  # when the config has an `http:` section
        self.meters = Meters()  # what /metrics serves besides what it reads at scrape time

    # the core's parts, as tests and the bench reach them ----------------------------------

    @property
    def config(self) -> Config:
        return self.core.config if self.core is not None else self._config

    @property
    def store(self) -> Store | None:
        return self.core.store if self.core is not None else None

    @property
    def scheduler(self) -> Scheduler:
        assert self.core is not None
        return self.core.scheduler

    @property
    def pipeline(self) -> Pipeline:
        assert self.core is not None
        return self.core.pipeline

    @property
    def delivery(self) -> Delivery:
        assert self.core is not None
        return self.core.delivery

    @property
    def reload_error(self) -> str | None:
        return self.core.reload_error if self.core is not None else None

    def status_line(self) -> str:
        assert self.core is not None
        return self.core.status_line()

    def _plugin_notes(self) -> str:
        """Plugins not in use, for STATUS (the details are in `yuqingd plugins`)."""
        notes = ""
        if self.quarantined:
            names = "、".join(sorted(self.quarantined))
            notes += f"；插件已隔离（曾阻塞事件循环）：{names}（yuqingd plugins enable 解除）"
        broken = sorted(self.plugins.broken)
        if broken:
            notes += f"；插件已停用：{'、'.join(broken)}（见 yuqingd plugins）"
        return notes

    # public controls (tests call these; signals map onto them) -----------------------------

    def request_stop(self) -> None:
        self._stop.set()

    async def reload(self) -> bool:
        """Re-read config and rules; on any error keep what runs and say why. Reloads are
        serialised, and a reload that cannot be applied whole is not applied at all."""
        assert self.core is not None
        async with self._reload_lock:
            self.sd.reloading()
            try:
                self._load_quarantine()
                new = load_config(self.config.path, self.plugins)
                problems = self.core.reload_problems(new)
                if problems:
                    raise ConfigError(problems)
                await self._apply(new)
            except ConfigError as exc:
                self.core.reload_error = f"重新加载失败，继续使用原配置：{len(exc.errors)} 处错误"
                self.reload_errors = [str(e) for e in exc.errors]
                for error in exc.errors:
                    log.error("reload.config_error", error=str(error))
                log.error("reload.rejected", errors=len(exc.errors))
            except Exception as exc:  # SIGHUP awaits this too: nothing a file does may kill us
                self.core.reload_error = (f"重新加载失败，继续使用原配置：内部错误 "
                                          f"{type(exc).__name__}: {exc}")
                self.reload_errors = [self.core.reload_error]
                log.exception("reload.failed", error=f"{type(exc).__name__}: {exc}")
            else:
                self.core.reload_error = None
                self.reload_errors = []
                log.info("reload.done", rules=len(new.ruleset.rules), sources=len(new.sources))
            self.sd.notify("READY=1", f"STATUS={self.status_line()}")
            return self.core.reload_error is None

    # running ------------------------------------------------------------------------------

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        self.clock.start()
        for broken in self.plugins.broken.values():
            log.warning("plugin.disabled", plugin=broken.name, stage=broken.stage,
                        error=broken.error)
        self._load_quarantine()
        _create_private(self.database)
        core = self.core = open_core(self._config, self.plugins, clock=self.clock,
                                     events=self.events, database=self.database)
        core.status_notes = self._plugin_notes
        core.pipeline.meters = core.escalation.meters = self.meters
        # Enrichers of quarantined plugins do not run (the analyzer is built by _apply).
        core.pipeline.enrichers = tuple((name, e) for name, e in core.pipeline.enrichers
                                        if name not in self.quarantined)
        core.reports.health = lambda: source_health(self._sources)
        core.source_health = lambda: self._sources.health if self._sources else {}
        self._send, receive = trio.open_memory_channel(PIPELINE_BUFFER)
        http = self._http or httpx.AsyncClient(
            timeout=httpx.Timeout(20.0, connect=10.0),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=10),
            follow_redirects=True,
            headers={"User-Agent": "yuqingd"},
        )
        self.http = http
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                await nursery.start(ControlServer(self.config.control_socket, self.handle).run)
                settings = self.config.file.http
                if settings is not None:
                    links = Links(load_key(self.config.state_dir), settings.base_url,
                                  settings.link_lifetime)
                    core.outreach.links = links
                    core.delivery.fallback.links = links  # moved notifications' links
                    self.http_server = HttpServer(settings, perform=self.handle, links=links,
                                                  now=self.clock.time,
                                                  core=lambda: self.core, meters=self.meters,
                                                  grace=self.config.file.shutdown_grace)
                    await nursery.start(self.http_server.run)
                    if settings.external_url is None and self.http_server.bound:
                        links.base_url = self.http_server.bound[0]  # the port, when listen: …:0
                self.pipeline_done = trio.Event()
                nursery.start_soon(self._run_pipeline, receive)
                await self._apply(self._config)
                # After _apply: deadlines that fell due while down need the roles to notify.
                await nursery.start(core.scheduler.run)
                await nursery.start(self.sd.run)
                nursery.start_soon(self._status_loop)
                nursery.start_soon(self._resync_clock)
                nursery.start_soon(measure_loop_lag, self.meters)
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
                nursery.cancel_scope.cancel()
        finally:
            if self._http is None:
                with trio.CancelScope(shield=True):
                    await http.aclose()
            core.close()

    async def _run_pipeline(self, receive) -> None:
        await self.pipeline.run(receive)
        self.pipeline_done.set()

    async def _apply(self, config: Config) -> None:
        """Make ``config`` the running one: rules, roles, notifiers and sources. Notifiers and
        the rule matcher are built first, so a failure there leaves everything as it was."""
        assert self.core is not None
        old = self.config
        workers = self._build_workers(config)
        self.core.configure(config)
        if config.file.log != old.file.log or config.file.timezone != old.file.timezone:
            configure_logging(config.file.log.format, config.file.log.level,
                              config.file.timezone)
        await self._replace_workers(workers)
        if self._sources is None or self._runnable(config) != self._running_sources:
            await self._restart_sources(config)
        else:
            self._sources.stall_after = config.file.supervisor.stall_after
            self._sources.max_backoff = config.file.supervisor.max_backoff

    def _build_workers(self, config: Config) -> dict[str, ChannelWorker]:
        """Workers for ``config``: running ones kept where their notifier is unchanged."""
        workers, errors = {}, []
        settings = config.file.delivery
        for spec in config.notifiers:
            if self._quarantined("notifiers", spec.kind):
                continue  # its notifications wait in the outbox until it is enabled again
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
                http=self.http, state_dir=config.state_dir, fallback=self.delivery.fallback,
                meters=self.meters,
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
                await self._nursery.start(worker.run)
        self.delivery.workers = workers

    async def _restart_sources(self, config: Config) -> None:
        if self._sources is not None:
            self._sources.stop()
        assert self.store is not None
        self._running_sources = self._runnable(config)
        self._sources = SourceSupervisor(
            self._running_sources,
            config.source_kinds,
            send=self._send.clone(),
            store=self.store,
            clock=self.clock,
            http=self.http,
            stall_after=config.file.supervisor.stall_after,
            max_backoff=config.file.supervisor.max_backoff,
            meters=self.meters,
        )
        await self._nursery.start(self._sources.run)

    def _runnable(self, config: Config) -> tuple:
        return tuple(s for s in config.sources if not self._quarantined("sources", s.kind))

    def _quarantined(self, section: str, kind: str) -> bool:
        return self.plugins.owner(section, kind) in self.quarantined

    def _load_quarantine(self) -> None:
        self.quarantined = quarantine.load(self.config.state_dir)
        for entry in self.quarantined.values():
            log.warning("plugin.quarantined", plugin=entry.plugin, where=entry.where,
                        blocked_for=entry.blocked_for,
                        note="not run; `yuqingd plugins enable` clears it")

    async def enable_plugin(self, name: str) -> bool:
        """Take ``name`` out of quarantine and start its sources and notifiers."""
        removed = quarantine.remove(self.config.state_dir, name)
        self._load_quarantine()
        async with self._reload_lock:
            await self._apply(self.config)
        log.info("plugin.enabled", plugin=name, was_quarantined=removed)
        return removed

    async def _shutdown(self) -> None:
        """Stop fetching, let the pipeline finish what it holds, deliver what is due — all
        within ``shutdown_grace``; whatever is left stays in the store for the next start."""
        self.sd.stopping()
        log.info("daemon.stopping", grace=self.config.file.shutdown_grace)
        with trio.move_on_after(self.config.file.shutdown_grace, shield=True) as scope:
            if self._sources is not None:
                self._sources.stop()
            if self.http_server is not None:
                self.http_server.stop()  # no new connections; requests in flight finish
            await self._send.aclose()
            await self.pipeline_done.wait()
            self.scheduler.changed.set()  # incidents the drained items opened
            await trio.lowlevel.checkpoint()
            await self.delivery.drain()
            if self.http_server is not None:
                await self.http_server.stopped.wait()
        log.info(
            "daemon.stopped",
            drained=not scope.cancelled_caught,
            undelivered=self.store.undelivered_count() if self.store else None,
        )

    # control socket -----------------------------------------------------------------------

    async def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        if not self.started.is_set() or self._stop.is_set():
            return {"ok": False, "error": "yuqingd 正在启动或停止，请稍后再试"}
        assert self.core is not None
        command = request.get("command")
        if command == "reload":
            ok = await self.reload()
            return {"ok": ok, "error": self.reload_error, "errors": self.reload_errors}
        if command == "plugins.enable":
            name = request.get("plugin")
            if not isinstance(name, str):
                raise TypeError("'plugin' must be a string")
            return {"ok": True, "was_quarantined": await self.enable_plugin(name)}
        if command == "status":
            return self.core.status()
        return self.core.perform(str(command), request, self.clock.time())

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
    """Run under signals: SIGHUP reloads, SIGTERM/SIGINT drain and stop; a watchdog thread
    notices a blocked event loop (yuqingd.watchdog)."""
    # Installed first: a SIGTERM while the config loads stops the daemon once it has started.
    inbox = SignalInbox((signal.SIGHUP, signal.SIGTERM, signal.SIGINT))
    inbox.install()
    config = load_config(config_path, plugins)
    daemon = Daemon(config, plugins)
    watchdog = LoopWatchdog(limit=config.file.watchdog, notifier=daemon.sd,
                            modules=plugins.modules(), state_dir=config.state_dir,
                            grace=config.file.shutdown_grace)
    daemon.sd.loop_pings = False  # the watchdog thread pings, while the loop runs
    # After the loop was told of a stop, the watchdog may interrupt a plugin that blocks it.
    inbox.on_stop = watchdog.on_stop_signal
    watchdog.start()
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(daemon.run)

            async for signum in inbox.received:
                if signum == signal.SIGHUP:
                    log.info("signal.reload")
                    await daemon.reload()
                else:
                    log.info("signal.stop", signal=signal.Signals(signum).name)
                    daemon.request_stop()
                    break
            # Signals from here on find the stop under way (the watchdog repeats SIGTERM
            # while a plugin blocks): dropped, never re-raised after the drain.
            inbox.close()
    finally:
        watchdog.stop()
    # STOPPING may still wait in a full notify queue: give the manager a moment to read it.
    with trio.move_on_after(2.0):
        await daemon.sd.flush()
    daemon.sd.close()
