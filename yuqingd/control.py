"""The control socket: a local Unix socket the CLI uses to talk to the running daemon.

Protocol: one JSON request line (an object with a ``command`` string), one JSON response line.
The socket file is created 0600 inside a 0700 folder, and peers are checked with SO_PEERCRED: only
root and the daemon's own user are answered.

Load limits: at most ``MAX_CONNECTIONS`` requests are served at once, each must arrive within
``READ_DEADLINE``; beyond that, ``RESERVED`` more connections are served ``status`` only (with a
shorter deadline), so connections that never send cannot keep an operator from seeing the
daemon's state. Anything further is closed at once; the CLI retries with back-off.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket as stdlib_socket
import struct
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
import trio

from yuqingd.located import msg
from yuqingd.time.clock import monotonic_usec

log = structlog.get_logger("yuqingd.control")

MAX_REQUEST = 64 * 1024
BACKLOG = 256
MAX_CONNECTIONS = 32
RESERVED = 4  # extra connections answered for `status` only
READ_DEADLINE = 5.0
RESERVED_READ_DEADLINE = 1.0
RESERVED_COMMANDS = frozenset({"status"})
CLIENT_RETRY_FIRST = 0.05
CLIENT_RETRY_MAX = 1.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(Exception):
    """The daemon could not be reached or refused the request."""


class BadRequest(ValueError):
    """A request that is not a JSON object with a ``command`` string."""


def parse_request(line: bytes) -> dict[str, Any]:
    """The request in ``line``, or BadRequest saying what is wrong with it."""
    try:
        request = json.loads(line)
    except ValueError as exc:  # invalid JSON or UTF-8
        raise BadRequest(f"invalid JSON: {exc}") from None
    if not isinstance(request, dict):
        raise BadRequest(f"expected a JSON object, got {type(request).__name__}")
    if not isinstance(request.get("command"), str):
        raise BadRequest("expected a 'command' string")
    return request


class ControlServer:
    def __init__(self, path: Path, handler: Handler):
        self.path = path
        self.handler = handler
        self.active = 0
        self.reserved_active = 0

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        listener = await self._listen()
        try:
            task_status.started()
            await trio.serve_listeners(self._serve, [listener])
        finally:
            with trio.CancelScope(shield=True):
                await listener.aclose()
            self.path.unlink(missing_ok=True)

    async def _listen(self) -> trio.SocketListener:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.exists():
            if await _answers(self.path):
                raise ControlError(
                    msg(
                        f"已有 yuqingd 在 {self.path} 上运行",
                        f"another yuqingd is already listening on {self.path}",
                    )
                )
            self.path.unlink()  # stale, left by a crash
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        old_umask = os.umask(0o177)
        try:
            await sock.bind(str(self.path))
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        sock.listen(BACKLOG)
        log.info("control.listening", path=str(self.path))
        return trio.SocketListener(sock)

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            if self.active < MAX_CONNECTIONS:
                self.active += 1
                try:
                    await self._answer(stream, READ_DEADLINE, None)
                finally:
                    self.active -= 1
            elif self.reserved_active < RESERVED:
                self.reserved_active += 1
                try:
                    await self._answer(stream, RESERVED_READ_DEADLINE, RESERVED_COMMANDS)
                finally:
                    self.reserved_active -= 1
            # else: closed unanswered; the client retries

    async def _answer(self, stream: trio.SocketStream, deadline: float,
                      only: frozenset[str] | None) -> None:
        if not _peer_allowed(stream.socket):
            # Read the request first: closing with it unread resets the connection, and
            # the client could get ECONNRESET instead of the refusal.
            with trio.move_on_after(1), contextlib.suppress(ValueError,
                                                            trio.BrokenResourceError):
                await _read_line(stream)
            await _reply(stream, {"ok": False, "error": "permission denied"})
            return
        try:
            with trio.fail_after(deadline):
                request = parse_request(await _read_line(stream))
        except (ValueError, trio.TooSlowError, trio.BrokenResourceError) as exc:
            reason = "timed out" if isinstance(exc, trio.TooSlowError) else str(exc)
            await _reply(stream, {"ok": False, "error": f"bad request: {reason}"})
            return
        if only is not None and request["command"] not in only:
            await _reply(stream, {"ok": False, "busy": True,
                                  "error": msg("yuqingd 繁忙，请稍后再试", "yuqingd is busy")})
            return
        try:
            response = await self.handler(request)
        except (TypeError, KeyError, ValueError) as exc:  # a field of the wrong type or missing
            log.warning("control.bad_request", command=request["command"],
                        error=f"{type(exc).__name__}: {exc}")
            response = {"ok": False, "error": f"bad request: {type(exc).__name__}: {exc}"}
        except Exception as exc:
            log.exception("control.handler_failed")
            response = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        await _reply(stream, response)


async def _reply(stream: trio.SocketStream, response: dict[str, Any]) -> None:
    with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
        await stream.send_all(_encode(response))


def _peer_allowed(sock: trio.socket.SocketType) -> bool:
    creds = sock.getsockopt(
        stdlib_socket.SOL_SOCKET, stdlib_socket.SO_PEERCRED, struct.calcsize("3i")
    )
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (0, os.geteuid())


async def _read_line(stream: trio.SocketStream) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = await stream.receive_some(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
    return data.split(b"\n", 1)[0]


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"


async def _answers(path: Path) -> bool:
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:
        return False
    await stream.aclose()
    return True


def request(path: Path, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Client side, for the CLI (blocking). A daemon that is busy (listen queue full, all
    connections taken, or closing before it answers) is asked again with back-off until
    ``timeout``."""
    deadline = monotonic_usec() / 1e6 + timeout
    wait = CLIENT_RETRY_FIRST
    while True:
        remaining = deadline - monotonic_usec() / 1e6
        try:
            reply = _request_once(path, payload, max(remaining, 0.1))
        except _Retry as exc:
            if remaining <= wait:
                raise ControlError(exc.message) from None
        else:
            if not reply.get("busy") or remaining <= wait:
                return reply
        time.sleep(wait)
        wait = min(wait * 2, CLIENT_RETRY_MAX)


class _Retry(Exception):
    def __init__(self, message: str):
        self.message = message


def _request_once(path: Path, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    sock = stdlib_socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        sock.sendall(_encode(payload))
        data = b""
        while b"\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except FileNotFoundError:
        raise ControlError(
            msg(
                f"yuqingd 未运行（找不到控制套接字 {path}）",
                f"yuqingd is not running (no control socket at {path})",
            )
        ) from None
    except PermissionError:
        raise ControlError(
            msg(
                f"无权使用 {path}（请以 root 或 yuqingd 用户运行）",
                f"no permission to use {path} (run as root or the yuqingd user)",
            )
        ) from None
    except (BlockingIOError, ConnectionRefusedError, ConnectionResetError,
            BrokenPipeError) as exc:
        # Listen queue full, or a daemon (re)starting or shedding load: worth asking again.
        raise _Retry(
            msg(f"无法连接 yuqingd（{path}）：{exc}", f"cannot reach yuqingd at {path}: {exc}")
        ) from None
    except OSError as exc:
        raise ControlError(
            msg(f"无法连接 yuqingd（{path}）：{exc}", f"cannot reach yuqingd at {path}: {exc}")
        ) from None
    finally:
        sock.close()
    if not data:
        raise _Retry(
            msg("yuqingd 未应答即关闭了连接", "yuqingd closed the connection without answering")
        )
    try:
        reply = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise ControlError(msg("yuqingd 的应答无法解析", "unreadable answer from yuqingd"))
    return reply
