"""The newcomer's first alert, end to end in real time (issue 14): the demo daemon prints an
alert; the ack command is pasted exactly as printed, after the export line `make demo` prints;
the incident is acknowledged and its escalation stops.

The demo config is copied with three changes only, each so that this test can run beside
another (CI runs two suites at once on one network): a free HTTP port instead of 8470, and its
state and alert file in the test's own folder."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

from .conftest import REPO

DEMO = REPO / "etc" / "demo"
ACK = re.compile(r"请在\S*内确认：(yuqingd ack \S+ --by \S+)")


def export_line_of_make_demo(config: str) -> str:
    """The `cd … && export …` line `make demo` prints, with make's escapes undone and the
    copied config in place of the checkout's."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    (echoed,) = re.findall(r"@echo '  (cd \$\(CURDIR\) && export [^']+)'", makefile)
    line = echoed.replace("$(CURDIR)", str(REPO)).replace("$$", "$")
    assert '"$PWD/etc/demo/yuqingd.yaml"' in line
    return line.replace('"$PWD/etc/demo/yuqingd.yaml"', f'"{config}"')


def wait_for(path, pattern: re.Pattern, proc: subprocess.Popen, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = pattern.search(path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found
        assert proc.poll() is None, f"the demo daemon ended with {proc.returncode}"
        time.sleep(0.1)
    raise AssertionError(f"no {pattern.pattern!r} in the demo's output:\n{path.read_text()}")


def test_the_alerts_ack_command_pasted_as_printed_stops_the_escalation(tmp_path, short_dir):
    text = (DEMO / "yuqingd.yaml").read_text(encoding="utf-8")
    text = (text.replace("listen: 127.0.0.1:8470", "listen: 127.0.0.1:0")
            .replace("../../var/demo/alerts.jsonl", str(tmp_path / "alerts.jsonl"))
            .replace("../../", f"{REPO}/"))
    text = re.sub(r"(?m)^state_dir: .*$", f"state_dir: {tmp_path / 'state'}\n"
                  f"control_socket: {short_dir / 'control.sock'}", text)
    config = tmp_path / "yuqingd.yaml"
    config.write_text(text, encoding="utf-8")
    (tmp_path / "stream.jsonl").write_bytes((DEMO / "stream.jsonl").read_bytes())

    console = tmp_path / "console.txt"
    env = {k: v for k, v in os.environ.items() if k not in ("YUQINGD_CONFIG", "NOTIFY_SOCKET")}
    with open(console, "wb") as out:
        daemon = subprocess.Popen([sys.executable, "-m", "yuqingd", "run", "--config",
                                   str(config)], cwd=REPO, env={**env, "PYTHONUNBUFFERED": "1"},
                                  stdout=out, stderr=subprocess.DEVNULL)
    try:
        printed = wait_for(console, ACK, daemon).group(1)
        pasted = subprocess.run(["bash", "-c", f"{export_line_of_make_demo(str(config))} && "
                                 f"{printed}"], capture_output=True, text=True, timeout=60,
                                cwd=tmp_path, env={**env, "YUQINGD_LANG": "zh"})
        assert pasted.returncode == 0, pasted.stderr
        incident = printed.split()[2]
        assert f"事件 {incident} 已确认" in pasted.stdout and "升级已停止" in pasted.stdout

        listed = subprocess.run(["bash", "-c", f"{export_line_of_make_demo(str(config))} && "
                                 "yuqingd incidents"], capture_output=True, text=True,
                                timeout=60, env=env)
        row = next(line.split("\t") for line in listed.stdout.splitlines()
                   if line.startswith(incident))
        assert row[1] == "已确认", listed.stdout
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=60)
    assert code == 0


def readme_blocks() -> list[str]:
    """The README's shell blocks, continuation lines joined."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    return [block.replace("\\\n", " ") for block in re.findall(r"```sh\n(.*?)```", readme, re.S)]


def test_the_readmes_simulate_command_runs_as_written():
    """Pasted from the README into a shell at the checkout: the demo's simulated week, the
    same output the fixture keeps (tests/test_simulate_fixtures.py)."""
    (block,) = [b for b in readme_blocks() if "yuqingd simulate" in b]
    env = {k: v for k, v in os.environ.items() if k != "YUQINGD_CONFIG"}
    done = subprocess.run(["bash", "-ec", block], cwd=REPO, capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    fixture = (REPO / "tests/fixtures/simulate/demo.jsonl").read_text(encoding="utf-8")
    assert done.stdout == fixture


def test_the_readmes_export_line_is_the_one_make_demo_prints():
    (block,) = [b for b in readme_blocks() if "yuqingd ack" in b and "export" in b]
    export = block.splitlines()[0]
    printed = export_line_of_make_demo("$PWD/etc/demo/yuqingd.yaml")
    assert printed == f"cd {REPO} && {export}"
