"""`yuqingd run` with this plugin installed, against two real HTTP servers on 127.0.0.1 (the
JSON API and the webhook receiver): what an operator would see, in real time (a few seconds)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

TITLES = ["六处学校老师体罚学生", "六处学校体罚事件续", "六处学校隐瞒情况"]


@pytest.fixture
def api(loopback_server):
    posts = [{"id": str(n), "title": t} for n, t in enumerate(TITLES, 1)][::-1]
    loopback_server.route("GET", "/posts", json={"posts": posts})
    loopback_server.route("POST", "/hook", json={"ok": True})
    return loopback_server


def wait_for(predicate, what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_yuqingd_run_polls_the_api_and_delivers_to_the_webhook(api, make_config):
    config = make_config(
        sources=[{"name": "bbs", "kind": "example-json", "url": api.url("/posts"),
                  "interval": "1s"}],
        notifiers=[{"name": "duty-phone", "kind": "example-webhook", "url": api.url("/hook")}],
    )
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    env["NO_PROXY"] = "127.0.0.1"
    check = subprocess.run([sys.executable, "-m", "yuqingd", "check", "--config", str(config)],
                           capture_output=True, text=True, env=env, timeout=60)
    assert check.returncode == 0, check.stderr
    plugins = subprocess.run([sys.executable, "-m", "yuqingd", "plugins"], capture_output=True,
                             text=True, env=env, timeout=60).stdout
    assert any(line.startswith("example\t0.1.0\t") for line in plugins.splitlines())
    daemon = subprocess.Popen([sys.executable, "-m", "yuqingd", "run", "--config", str(config)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: api.json_bodies(), "the webhook to receive the alert")
        wait_for(lambda: sum(r.method == "GET" for r in api.requests) >= 3, "three polls")
        status = subprocess.run(
            [sys.executable, "-m", "yuqingd", "--lang", "zh", "sources", "--config", str(config)],
            capture_output=True, text=True, env=env, timeout=60)
        assert status.returncode == 0, status.stderr
        assert status.stdout.splitlines()[1].startswith("bbs\texample-json\t正常\t")
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=30) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    [alert] = api.json_bodies()
    assert alert["kind"] == "incident.opened" and alert["title"] == "涉校负面信息集中出现"
    hook = next(r for r in api.requests if r.method == "POST")
    assert hook.headers["Idempotency-Key"] == alert["id"]
