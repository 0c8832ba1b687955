"""Reload under hostile input: SIGHUP and `yuqingd reload` take the same guarded path, and no
file can make a reload take the daemon down — it keeps the running rules and says why."""

from __future__ import annotations

import signal
import subprocess
import sys

from yuqingd.control import request
from yuqingd.testing import Harness, running_daemon

from .service.process import DaemonProcess
from .test_service import daemon_factory  # noqa: F401 - the fixture

HOSTILE = [
    "x: &r [*r]\n",                          # a recursive alias
    "<<: *nowhere\n",                        # a merge key of an undefined alias
    "<<: {shutdown_grace: 5s, x: 1}\n",      # a merge key bringing an unknown field
    "x: !custom 1\n",                        # an unknown tag
    "x: a\x00b\n",                           # NUL
    "x: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",  # deep nesting
    "".join(f"x{n}: &a{n} [{', '.join([f'*a{n - 1}' if n else 'lol'] * 9)}]\n"
            for n in range(9)),              # an alias bomb
    "supervisor: {stall_after: 99999999999999999999999999d}\n",  # a duration beyond any date
    "st[affing: 1\n",                        # a key that looks like a pydantic tag
]


def test_sighup_with_each_hostile_config_keeps_the_daemon_on_its_rules(daemon_factory,  # noqa: F811
                                                                         tmp_path, short_dir):
    """A running daemon, a hostile line appended to its config, SIGHUP: it stays up on the old
    rules, READY's STATUS says the reload failed, and the log locates the line. `yuqingd
    reload` gives the same answer with exit 78."""
    daemon: DaemonProcess = daemon_factory().start()
    daemon.wait_message("READY=1")
    sock = short_dir / "control.sock"
    config = tmp_path / "yuqingd.yaml"
    good = config.read_bytes()
    lines = good.count(b"\n")
    for number, hostile in enumerate(HOSTILE):
        config.write_bytes(good + hostile.encode("utf-8"))
        daemon.signal(signal.SIGHUP)
        daemon.wait_message("RELOADING=1")
        ready = daemon.wait_message("READY=1")
        assert "重新加载失败，继续使用原配置" in ready, hostile[:40]
        assert daemon.proc.poll() is None, hostile[:40]
        assert request(sock, {"command": "status"})["rules"] == ["negative-burst"]
        errors = [e["error"] for e in daemon.log_events()
                  if e.get("event") == "reload.config_error"]
        assert any(e.startswith(f"{config}:{lines + 1}:") for e in errors[-3:]), (hostile[:40],
                                                                                 errors[-3:])
        if number == 0:
            result = subprocess.run([sys.executable, "-m", "yuqingd", "reload", "--config",
                                     str(config)], capture_output=True, text=True, timeout=60)
            assert result.returncode == 78 and "Traceback" not in result.stderr
            assert result.stderr.startswith(f"{config}:{lines + 1}:8: 别名 '*r'")
    assert "Traceback" not in daemon.log()
    config.write_bytes(good)
    daemon.signal(signal.SIGTERM)
    assert daemon.wait_exit() == 0


async def test_reload_that_fails_unforeseen_keeps_running(make_config, autojump_clock,
                                                          monkeypatch):
    """Whatever breaks inside a reload (here load_config raising RuntimeError) is a refused
    reload with its reason, not a dead daemon — the path SIGHUP takes."""
    import yuqingd.daemon as daemon_module

    path = make_config()
    async with running_daemon(path, Harness()) as daemon:
        def broken(*args, **kwargs):
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(daemon_module, "load_config", broken)
        assert await daemon.reload() is False
        assert "disk on fire" in daemon.reload_error
        assert "重新加载失败，继续使用原配置" in daemon.status_line()
        assert [r.id for r in daemon.config.ruleset.rules] == ["negative-burst"]
