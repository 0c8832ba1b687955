"""The HTTP listener: a Starlette app served by hypercorn's trio worker in the daemon's nursery.

Started with ``nursery.start`` before READY=1 (it has bound its socket by then); stopped by
``stop()`` during the drain, when hypercorn finishes the requests in flight within the grace.
"""

from __future__ import annotations

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from yuqingd.config import HttpSettings

log = structlog.get_logger("yuqingd.web")


def build_app() -> Starlette:
    """The ASGI app: for now the liveness route the later parts hang beside."""

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/healthz", healthz)])


class HttpServer:
    """Serves ``build_app()`` on ``settings.listen`` until ``stop()``."""

    def __init__(self, settings: HttpSettings, *, grace: float = 5.0):
        self.settings = settings
        self.grace = grace
        self.app = build_app()
        self.bound: list[str] = []  # e.g. ["http://127.0.0.1:8470"], once listening
        self._stop = trio.Event()
        self.stopped = trio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        cfg = HypercornConfig()
        cfg.bind = [f"{self.settings.host}:{self.settings.port}"]
        cfg.graceful_timeout = self.grace
        cfg.accesslog = None
        cfg.errorlog = None  # errors are logged by structlog below, not hypercorn's logger
        cfg.use_reloader = False

        class _Started:
            def started(inner, binds=None) -> None:  # noqa: N805 - hypercorn's task_status
                self.bound = list(binds or [])
                log.info("http.listening", listen=self.bound)
                task_status.started(self.bound)

        try:
            await serve(self.app, cfg, shutdown_trigger=self._stop.wait,  # type: ignore[arg-type]
                        task_status=_Started())
        finally:
            self.stopped.set()
