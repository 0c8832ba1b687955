"""The control socket: a local Unix socket the CLI uses to talk to the running daemon.

Protocol: one JSON request line, one JSON response line. The socket file is created 0600 inside
a 0700 folder, and peers are checked with SO_PEERCRED: only root and the daemon's own user are
answered.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket as stdlib_socket
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import structlog
import trio

from yuqingd.located import msg

log = structlog.get_logger("yuqingd.control")

MAX_REQUEST = 64 * 1024

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlError(Exception):
    """The daemon could not be reached or refused the request."""


class ControlServer:
    def __init__(self, path: Path, handler: Handler):
        self.path = path
        self.handler = handler

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
        sock.listen(16)
        log.info("control.listening", path=str(self.path))
        return trio.SocketListener(sock)

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            if not _peer_allowed(stream.socket):
                # Read the request first: closing with it unread resets the connection, and
                # the client could get ECONNRESET instead of the refusal.
                with trio.move_on_after(1), contextlib.suppress(ValueError,
                                                                trio.BrokenResourceError):
                    await _read_line(stream)
                await stream.send_all(_encode({"ok": False, "error": "permission denied"}))
                return
            try:
                with trio.fail_after(10):
                    request = json.loads(await _read_line(stream))
                response = await self.handler(request)
            except (ValueError, trio.TooSlowError) as exc:
                response = {"ok": False, "error": f"bad request: {exc}"}
            except Exception as exc:
                log.exception("control.handler_failed")
                response = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            with contextlib.suppress(trio.BrokenResourceError):
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
    """Client side, for the CLI (blocking)."""
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
    except OSError as exc:
        raise ControlError(
            msg(f"无法连接 yuqingd（{path}）：{exc}", f"cannot reach yuqingd at {path}: {exc}")
        ) from None
    finally:
        sock.close()
    if not data:
        raise ControlError(
            msg("yuqingd 未应答即关闭了连接", "yuqingd closed the connection without answering")
        )
    return json.loads(data.split(b"\n", 1)[0])
