"""HTTP for plugin tests: canned routes served by an ``httpx.MockTransport`` or by a real server
on 127.0.0.1 (shipped with yuqingd's test tools; see docs/plugins.md, "Testing")."""

from __future__ import annotations

import json as jsonlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


@dataclass
class Route:
    method: str
    target: str  # a full URL, or a path matched against any host
    responses: list[Handler] = field(default_factory=list)
    calls: int = 0

    def matches(self, request: httpx.Request) -> bool:
        if request.method != self.method:
            return False
        if self.target.startswith(("http://", "https://")):
            return str(request.url.copy_with(query=None)) == self.target
        return request.url.path == self.target

    def answer(self, request: httpx.Request) -> httpx.Response:
        handler = self.responses[min(self.calls, len(self.responses) - 1)]
        self.calls += 1
        return handler(request)


def _responder(status: int, json: Any, text: str | None, content: bytes | None,
               headers: dict[str, str] | None) -> Handler:
    def respond(request: httpx.Request) -> httpx.Response:
        if json is not None:
            return httpx.Response(status, json=json, headers=headers)
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, content=content or b"", headers=headers)

    return respond


class Routes:
    """Canned answers by method and URL (or path); every request is kept in ``requests``."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def route(self, method: str, target: str, *, status: int = 200, json: Any = None,
              text: str | None = None, content: bytes | None = None,
              headers: dict[str, str] | None = None, handler: Handler | None = None) -> Route:
        """Answer ``method target`` (a URL, or a path on any host). Routing the same target again
        queues another answer: the first call gets the first, and the last repeats (a 503 then a
        200). ``handler(request) -> httpx.Response`` answers computed responses."""
        respond = handler or _responder(status, json, text, content, headers)
        for existing in self.routes:
            if existing.method == method.upper() and existing.target == target:
                existing.responses.append(respond)
                return existing
        new = Route(method.upper(), target, [respond])
        self.routes.append(new)
        return new

    def handle(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            request.read()
            self.requests.append(request)
            for route in self.routes:
                if route.matches(request):
                    return route.answer(request)
        return httpx.Response(404, text=f"no route for {request.method} {request.url}")

    def json_bodies(self, method: str = "POST") -> list[Any]:
        """The JSON bodies of the requests received with ``method``, in order."""
        return [jsonlib.loads(r.content) for r in self.requests if r.method == method]


class MockHTTP(Routes):
    """The ``http_mock`` fixture: routes answered in-process by an ``httpx.MockTransport``;
    ``client`` is the ``httpx.AsyncClient`` to hand to a source or notifier (or to
    ``running_daemon(http=...)``). No socket is opened, so it works on virtual time."""

    def __init__(self) -> None:
        super().__init__()
        self.client = httpx.AsyncClient(transport=httpx.MockTransport(self.handle))


class LoopbackServer(Routes):
    """The ``loopback_server`` fixture: the same routes served by a real HTTP server on
    127.0.0.1 in a thread, for end-to-end tests (a daemon process, a real client). Sockets take
    real time: do not combine with ``autojump_clock``."""

    def __init__(self) -> None:
        super().__init__()
        routes = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = httpx.Request(self.command, routes.url(self.path),
                                        headers=dict(self.headers.items()), content=body)
                response = routes.handle(request)
                payload = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.items():
                    if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)

    def url(self, path: str = "/") -> str:
        """``http://127.0.0.1:PORT/path``."""
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


