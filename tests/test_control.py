"""`yuqingd ack` and `yuqingd status` talk to the running daemon over its control socket."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading

import pytest

from .service.configs import write_setup
from .service.process import DaemonProcess, wait_until


def cli(*args):
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=60)


def test_control_cli_ack_stops_escalation_and_is_recorded(tmp_path, short_dir):
    """`yuqingd ack ID --by NAME --note …` acknowledges; the record and the alert say who."""
    sock = short_dir / "control.sock"
    config = write_setup(tmp_path, sock, ack_within="1h")
    alerts = tmp_path / "alerts.jsonl"
    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
        wait_until(lambda: alerts.exists() and alerts.read_text().count("\n") == 2,
                   what="two incidents")
        incident = json.loads(alerts.read_text().splitlines()[0])["incident"]

        result = cli("ack", incident, "--by", "张明", "--note", "已电话联系校长",
                     "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith(f"事件 {incident} 已确认")

        again = cli("ack", incident, "--by", "李华", "--config", str(config))
        assert again.returncode == 1 and f"事件 {incident} 已由 张明" in again.stderr

        (tmp_path / "rules.yaml").write_text("rules: [oops\n")  # an edit not yet reloaded
        status = cli("status", "--config", str(config))
        assert status.returncode == 0, status.stderr
        # after the status line: a line per source and notifier, then the incidents (tabbed)
        rows = [line.split("\t") for line in status.stdout.splitlines()[1:] if "\t" in line]
        assert {(r[0], r[1]) for r in rows} >= {(incident, "已确认")}

        wait_until(lambda: "incident.acknowledged" in alerts.read_text(), what="ack notice")
        notice = json.loads(alerts.read_text().splitlines()[-1])
        assert "确认人：张明" in notice["text"] and "已电话联系校长" in notice["text"]
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()
    assert not sock.exists()


def test_control_cli_reports_a_daemon_that_is_not_running(tmp_path, short_dir):
    """Without a running daemon, `yuqingd ack` says so and exits 69."""
    config = write_setup(tmp_path, short_dir / "control.sock")
    result = cli("ack", "20260510-001", "--by", "张明", "--config", str(config))
    assert result.returncode == 69
    assert "yuqingd 未运行" in result.stderr


def test_control_socket_refuses_other_users(tmp_path, short_dir):
    """Even if the socket file were opened up, a process of another user is refused."""
    if os.geteuid() != 0:
        pytest.skip("needs root to act as another user")
    sock = short_dir / "control.sock"
    config = write_setup(tmp_path, sock)
    daemon = DaemonProcess(config, short_dir)
    try:
        daemon.start()
        daemon.wait_message("READY=1")
        os.chmod(sock, 0o666)
        os.chmod(short_dir, 0o755)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child becomes 'nobody' and asks for the status
            try:
                os.setgid(65534)
                os.setuid(65534)
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                client.connect(str(sock))
                client.sendall(b'{"command": "status"}\n')
                os.write(write, client.recv(4096))
            finally:
                os._exit(0)
        os.close(write)
        os.waitpid(pid, 0)
        answer = json.loads(os.read(read, 4096))
        assert answer == {"ok": False, "error": "permission denied"}
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit() == 0
    finally:
        daemon.close()


@pytest.fixture
def running(tmp_path, short_dir):
    sock = short_dir / "control.sock"
    config = write_setup(tmp_path, sock)
    daemon = DaemonProcess(config, short_dir)
    daemon.start()
    daemon.wait_message("READY=1")
    yield daemon, sock, config
    daemon.close()


def _raw(sock, data: bytes) -> dict:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    try:
        client.connect(str(sock))
        client.sendall(data)
        return json.loads(client.makefile("rb").readline())
    finally:
        client.close()


def test_control_malformed_requests_get_bad_request_without_traceback(running):
    """Requests that are not a JSON object with a command string are answered "bad request";
    the daemon logs no traceback and goes on answering."""
    daemon, sock, _config = running
    for data in (b"[1,2]\n", b"42\n", b"{not json\n", b'"status"\n', b"null\n",
                 b'{"command": 5}\n', b"\xff\xfe\n", b"{}\n", b"\n"):
        reply = _raw(sock, data)
        assert reply["ok"] is False and reply["error"].startswith("bad request"), (data, reply)
    for data in (b'{"command": "ack", "incident": 5, "by": []}\n', b'{"command": "nope"}\n'):
        assert _raw(sock, data)["ok"] is False
    assert _raw(sock, b'{"command": "status"}\n')["ok"] is True
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "Traceback" not in daemon.log()
    assert "handler_failed" not in daemon.log()


def test_control_status_answers_despite_100_half_open_connections(running):
    """100 connections that never send a byte do not keep `yuqingd status` from answering: a
    slot is kept for it and the CLI retries."""
    from yuqingd.control import request

    daemon, sock, config = running
    idle = []
    try:
        for _ in range(100):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.connect(str(sock))
            idle.append(client)
        reply = request(sock, {"command": "status"})
        assert reply["ok"] is True and reply["status"].startswith("信息源")
        # …answered while the ordinary slots were still held (their read deadline not reached):
        still_open = 0
        for client in idle[:32]:
            try:
                client.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            except BlockingIOError:
                still_open += 1
        assert still_open == 32
        result = cli("status", "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("信息源")
    finally:
        for client in idle:
            client.close()
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0
    assert "Traceback" not in daemon.log()


def test_control_cli_retries_while_the_listen_queue_is_full(short_dir):
    """A listener whose backlog is full (connect gives EAGAIN at once) is asked again with
    back-off; the reply comes once it accepts."""
    from yuqingd.control import request

    path = short_dir / "busy.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(0)
    queued = []
    with pytest.raises(BlockingIOError):  # fill the backlog until connect fails like the bug
        for _ in range(64):
            client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            client.setblocking(False)
            queued.append(client)
            client.connect(str(path))
    replies = []
    thread = threading.Thread(target=lambda: replies.append(
        request(path, {"command": "status"}, timeout=20)))
    thread.start()
    try:
        for client in queued:  # the daemon catching up: queued ones go away, then it answers
            client.close()
        while thread.is_alive():
            server.settimeout(20)
            conn, _ = server.accept()
            with conn:
                line = conn.makefile("rb").readline()
                if line:
                    conn.sendall(b'{"ok": true, "status": "fine"}\n')
                    break
        thread.join(20)
    finally:
        server.close()
    assert replies == [{"ok": True, "status": "fine"}]
