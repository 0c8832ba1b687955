"""The HTTP listener: a Starlette app served by hypercorn's trio worker in the daemon's nursery.

Started with ``nursery.start`` before READY=1 (it has bound its socket by then); stopped by
``stop()`` during the drain, when hypercorn finishes the requests in flight within the grace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from yuqingd.config import HttpSettings
from yuqingd.metrics import Meters
from yuqingd.web import pages
from yuqingd.web.api import Api
from yuqingd.web.body import capped_body
from yuqingd.web.limiter import FailureLimiter
from yuqingd.web.links import Expired, Link, Links, Tampered
from yuqingd.web.metrics import metrics_endpoint

Perform = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]

log = structlog.get_logger("yuqingd.web")


def build_app(perform: Perform, links: Links, now: Callable[[], float],
              core: Callable[[], Any] = lambda: None,
              limiter: FailureLimiter | None = None,
              meters: Meters | None = None) -> Starlette:
    """The ASGI app. ``perform`` runs a command exactly as the control socket does; ``core``
    gives the running core to ``/metrics`` and the API's token check. Failed attempts (a bad
    token, a forged link or form) count against the client in ``limiter``."""
    limiter = limiter or FailureLimiter()
    api = Api(perform, lambda: getattr(core(), "store", None), now, limiter, capped_body)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    def html(text: str, status: int = 200) -> Response:
        return HTMLResponse(text, status, headers={
            "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                       "form-action 'self'"})

    def failed(request: Request) -> None:
        limiter.failed(request.client.host if request.client else "-", now())

    def opened(request: Request, token: str) -> Link | Response:
        refused = api.limited(request)
        if refused is not None:
            page = html(pages.message_page("尝试次数过多", "失败次数过多，请稍后再试。"), 429)
            page.headers["Retry-After"] = refused.headers["Retry-After"]
            return page
        try:
            return links.check(token, now())
        except Tampered:
            failed(request)
            log.warning("http.link.tampered")
            return html(pages.message_page("链接无效", "此链接无效或已被改动，无法使用。"
                                           "请使用通知中的原始链接，或通过值班电话处置。"), 403)
        except Expired as exc:
            log.info("http.link.expired", incident=exc.link.incident, person=exc.link.person)
            return html(pages.message_page("链接已过期", "此链接已过期。请使用最新通知中的链接，"
                                           "或用 yuqingd 命令处置。"), 410)

    async def show(token: str, link: Link, *, notice: str = "", error: str = "",
                   status: int = 200) -> Response:
        record = await perform({"command": "incident", "incident": link.incident})
        if not record.get("ok"):
            return html(pages.message_page("无法打开事件", str(record.get("error"))), 503)
        return html(pages.incident_page(record, person=link.person, csrf=links.csrf(token),
                                        notice=notice, error=error), status)

    async def link_page(request: Request) -> Response:
        token = request.path_params["token"]
        link = opened(request, token)
        if isinstance(link, Response):
            return link
        if request.method == "GET":
            return await show(token, link)
        body = await capped_body(request)
        if body is None:
            return html(pages.message_page("请求过大", "提交的内容过大。"), 413)
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if not links.csrf_ok(token, form.get("csrf", "")):
            failed(request)
            return html(pages.message_page("表单已失效", "请重新打开通知中的链接后再提交。"), 403)
        return await act(token, link, form.get("do", ""), form.get("note", "").strip())

    async def act(token: str, link: Link, do: str, note: str) -> Response:
        current = await perform({"command": "incident", "incident": link.incident})
        state = current.get("incident", {}).get("status") if current.get("ok") else None
        via = f"link ({link.channel})"
        if do == "ack":
            if state != "open":  # a replay, or someone else was first: show, do not act
                return await show(token, link, notice="此事件已确认，无需重复操作。")
            reply = await perform({"command": "ack", "incident": link.incident,
                                   "by": link.person, "note": note, "via": via})
            notice = "已确认，升级已停止。"
        elif do in ("first", "follow_up", "final"):
            reply = await perform({"command": "report", "incident": link.incident,
                                   "stage": do, "by": link.person, "note": note, "via": via})
            notice = f"已记录{dict(pages.STAGE_BUTTONS)[do]}。"
        else:
            return await show(token, link, error="未知操作。", status=400)
        if not reply.get("ok"):
            return await show(token, link, error=str(reply.get("error")), status=409)
        log.info("http.link.acted", incident=link.incident, person=link.person, action=do,
                 channel=link.channel)
        return await show(token, link, notice=notice)

    return Starlette(routes=[Route("/healthz", healthz),
                             Route("/l/{token}", link_page, methods=["GET", "POST"]),
                             Route("/metrics", metrics_endpoint(core, meters)),
                             *api.routes()])

class HttpServer:
    """Serves ``build_app(...)`` on ``settings.listen`` until ``stop()``."""

    def __init__(self, settings: HttpSettings, *, perform: Perform, links: Links,
                 now: Callable[[], float], core: Callable[[], Any] = lambda: None,
                 meters: Meters | None = None, grace: float = 5.0):
        self.settings = settings
        self.grace = grace
        self.links = links
        self.app = build_app(perform, links, now, core, meters=meters)
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
