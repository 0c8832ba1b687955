"""The HTTP API: a table of routes, each running one control-socket command.

Every route names the command handler it runs (:mod:`yuqingd.commands`), through the same
``perform`` as the control socket and the link pages. A request carries ``Authorization:
Bearer <token>`` (:mod:`yuqingd.tokens`); commands that act are recorded as the token's person
(or integration), ``via`` "api token <name>": a ``by`` in the body is ignored. The OpenAPI
document (``/api/openapi.json``) is generated from :data:`ROUTES` and the handlers' docstrings.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route as StarletteRoute

from yuqingd import __version__, commands, tokens
from yuqingd.runtime.audit import REPORT_STAGES
from yuqingd.web.body import MAX_BODY
from yuqingd.web.limiter import FailureLimiter

Perform = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
log = structlog.get_logger("yuqingd.web.api")

UNAUTHORIZED = ("未授权：缺少访问令牌，或令牌无效、已吊销"
                "（unauthorized: missing, unknown or revoked bearer token）")
TOO_MANY = "尝试失败次数过多，请稍后再试（too many failed attempts; retry later）"


@dataclass(frozen=True)
class Param:
    """A field of the query (GET) or of the JSON body (POST, DELETE)."""

    name: str
    description: str
    type: str = "string"  # string | boolean
    required: bool = False
    enum: tuple[str, ...] = ()


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # Starlette syntax; path parameters are arguments of the command
    command: str  # the name in yuqingd.commands.HANDLERS
    summary: str
    params: tuple[Param, ...] = ()
    acts: bool = False  # changes something: recorded as the token's person, via the token


_NOTE = Param("note", "备注（写入记录） / note for the record")
ROUTES: tuple[Route, ...] = (
    Route("GET", "/api/incidents", "incidents", "列出未关闭的事件 / list incidents",
          (Param("all", "包括已关闭的事件 / closed ones too", "boolean"),)),
    Route("GET", "/api/incidents/{incident}", "incident", "查看事件全部记录 / one incident"),
    Route("POST", "/api/incidents/{incident}/ack", "ack", "确认事件，停止升级 / acknowledge",
          (_NOTE,), acts=True),
    Route("POST", "/api/incidents/{incident}/report", "report",
          "记录首报、续报或终报 / record a report stage",
          (Param("stage", "首报 first、续报 follow_up、终报 final", required=True,
                 enum=REPORT_STAGES), _NOTE), acts=True),
    Route("POST", "/api/incidents/{incident}/close", "close", "关闭事件 / close an incident",
          (_NOTE,), acts=True),
    Route("GET", "/api/silences", "silence.list", "生效中的静默 / active silences"),
    Route("POST", "/api/silences", "silence.add", "静默规则、对象或信息源 / add a silence",
          (Param("rule", "规则编号 / rule id"), Param("key", "对象 / group key"),
           Param("source", "信息源 / source name"),
           Param("for", "时长，如 2h / how long, e.g. 2h", required=True),
           Param("reason", "静默原因 / why", required=True)), acts=True),
    Route("DELETE", "/api/silences/{silence}", "silence.remove", "解除静默 / end a silence",
          acts=True),
)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"ok": False, "error": message}, status, headers=headers)


def _client(request: Request) -> str:
    return request.client.host if request.client else "-"


class Api:
    """The routes of :data:`ROUTES` for Starlette, with authentication and the limiter."""

    def __init__(self, perform: Perform, store: Callable[[], Any], now: Callable[[], float],
                 limiter: FailureLimiter, read_body: Callable[[Request], Awaitable[bytes | None]]):
        self.perform = perform
        self.store = store
        self.now = now
        self.limiter = limiter
        self.read_body = read_body

    def routes(self) -> list[StarletteRoute]:
        served = [StarletteRoute(r.path, self._endpoint(r), methods=[r.method]) for r in ROUTES]
        return [*served, StarletteRoute("/api/openapi.json", self._openapi)]

    async def _openapi(self, request: Request) -> Response:
        return JSONResponse(openapi())

    def limited(self, request: Request) -> Response | None:
        """429 when the client's failures are over the limit."""
        wait = self.limiter.retry_after(_client(request), self.now())
        if wait is None:
            return None
        return _error(429, TOO_MANY, {"Retry-After": str(wait)})

    def _endpoint(self, route: Route) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            refused = self.limited(request)
            if refused is not None:
                return refused
            token = self._token(request)
            if token is None:
                self.limiter.failed(_client(request), self.now())
                log.warning("http.api.unauthorized", client=_client(request), path=route.path)
                return _error(401, UNAUTHORIZED, {"WWW-Authenticate": 'Bearer realm="yuqingd"'})
            args = await self._args(route, request)
            if isinstance(args, Response):
                return args
            if route.acts:
                args["by"], args["via"] = tokens.identity(token)
            return await self._run(route, args)
        return endpoint

    def _token(self, request: Request):
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        store = self.store()
        if scheme.lower() != "bearer" or not value.strip() or store is None:
            return None
        return tokens.authenticate(store, value.strip(), self.now())

    async def _args(self, route: Route, request: Request) -> dict[str, Any] | Response:
        given: dict[str, Any]
        if route.method == "GET":
            given = dict(request.query_params)
        else:
            body = await self.read_body(request)
            if body is None:
                return _error(413, f"请求体超过 {MAX_BODY // 1024} KiB（body too large）")
            try:
                given = json.loads(body) if body.strip() else {}
            except ValueError:
                given = None  # type: ignore[assignment]
            if not isinstance(given, dict):
                return _error(400, "请求体须为 JSON 对象（the body must be a JSON object）")
        args: dict[str, Any] = dict(request.path_params)
        for param in route.params:
            value = given.get(param.name)
            if value is None or value == "":
                if param.required:
                    return _error(400, f"缺少字段 {param.name}（{param.name} is required）")
                continue
            if param.type == "boolean":
                value = value if isinstance(value, bool) else str(value).lower() in ("1", "true")
            elif not isinstance(value, str):
                return _error(400, f"字段 {param.name} 须为字符串（{param.name} must be a string）")
            if param.enum and value not in param.enum:
                return _error(400, f"字段 {param.name} 须为 {'、'.join(param.enum)} 之一")
            args[param.name] = value
        return args

    async def _run(self, route: Route, args: dict[str, Any]) -> Response:
        acting_on_incident = "incident" in args and route.command != "incident"
        if acting_on_incident:  # an unknown incident is 404, a refused action 409
            found = await self.perform({"command": "incident", "incident": args["incident"]})
            if not found.get("ok"):
                return _error(404, str(found.get("error")))
        reply = await self.perform({**args, "command": route.command})
        if not reply.get("ok"):
            return _error(404 if route.command == "incident" else 409, str(reply.get("error")))
        if route.acts:
            log.info("http.api.acted", command=route.command, by=args["by"], via=args["via"])
        return JSONResponse(reply)


_RESPONSES = {
    "200": "成功：命令的回复（ok 为 true） / the command's reply",
    "400": "请求有误 / bad request", "401": "未授权 / missing or invalid token",
    "404": "没有该事件 / no such incident", "409": "命令无法执行（原因见 error） / refused",
    "413": "请求体过大 / body too large",
    "429": "失败次数过多（见 Retry-After） / too many failures",
}


def openapi() -> dict[str, Any]:
    """The OpenAPI 3.1 document of :data:`ROUTES`."""
    commands.load()
    error = {"type": "object", "properties": {"ok": {"const": False},
                                              "error": {"type": "string"}}}
    paths: dict[str, dict[str, Any]] = {}
    for route in ROUTES:
        doc = (commands.HANDLERS[route.command].__doc__ or "").strip()
        fields = {p.name: {"type": p.type, "description": p.description,
                           **({"enum": list(p.enum)} if p.enum else {})} for p in route.params}
        required = [p.name for p in route.params if p.required]
        parameters = [{"name": name, "in": "path", "required": True,
                       "schema": {"type": "string"}}
                      for name in _path_params(route.path)]
        operation: dict[str, Any] = {
            "operationId": route.command, "summary": route.summary,
            "responses": {code: {"description": text, "content": {"application/json": {
                "schema": {"type": "object"} if code == "200" else error}}}
                for code, text in _RESPONSES.items()},
        }
        if doc:
            operation["description"] = doc
        if route.method == "GET":
            parameters += [{"name": name, "in": "query", "required": name in required,
                            "schema": schema} for name, schema in fields.items()]
        elif fields:
            operation["requestBody"] = {"required": bool(required), "content": {
                "application/json": {"schema": {"type": "object", "properties": fields,
                                                **({"required": required} if required else {})}}}}
        if parameters:
            operation["parameters"] = parameters
        if route.acts:
            operation["x-yuqingd-recorded-as"] = "the token's person, via 'api token <name>'"
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "yuqingd HTTP API", "version": __version__,
                 "description": "舆情事件的查看与处置（与控制套接字相同的命令） / incidents and "
                                "silences, through the control socket's commands"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    }


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]
