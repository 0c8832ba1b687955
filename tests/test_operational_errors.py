"""What the system refuses is told as what it is (issue 14): a folder that cannot be made, a
file that cannot be read, a machine without a time-zone database — one line in Chinese, the
path, what to do and an exit status to act on; never a traceback, never "a config error"."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

from yuqingd import startup_errors
from yuqingd.exit_codes import EX_CANTCREAT, EX_NOINPUT, EX_NOPERM, EX_UNAVAILABLE

from .conftest import REPO

DEMO = REPO / "etc" / "demo" / "yuqingd.yaml"


def yuqingd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "YUQINGD_LANG": "zh", **(env or {})}
    return subprocess.run([sys.executable, "-m", "yuqingd", *args], capture_output=True,
                          text=True, timeout=120, env=environment, cwd=REPO)


def demo_copy(tmp_path: Path, *extra_lines: str) -> Path:
    """The demo config in tmp_path (its rule and stream paths made absolute)."""
    text = DEMO.read_text(encoding="utf-8").replace("../../", f"{REPO}/")
    text = "\n".join(line for line in text.splitlines() if not line.startswith("state_dir"))
    path = tmp_path / "yuqingd.yaml"
    path.write_text(f"state_dir: {tmp_path / 'state'}\n" + "\n".join(extra_lines) + "\n"
                    + text + "\n", encoding="utf-8")
    shutil.copy(DEMO.parent / "stream.jsonl", tmp_path / "stream.jsonl")
    return path


def test_a_runtime_folder_that_cannot_be_made_is_one_line_and_exit_73(tmp_path):
    # As when the service command is run by hand before systemd has made /run/yuqingd: the
    # socket's folder cannot be created (here under /proc, which refuses even root).
    config = demo_copy(tmp_path, "control_socket: /proc/yuqingd-test/control.sock")
    done = yuqingd("run", "--config", str(config))
    assert done.returncode == EX_CANTCREAT, done.stderr
    told = [line for line in done.stderr.splitlines() if not line.startswith("{")]
    assert told == [told[0]] and told[0].startswith(
        "yuqingd: 无法启动：无法创建 /proc/yuqingd-test，上级目录不存在")
    assert "systemctl start yuqingd" in told[0] and "sudo -u yuqingd" in told[0]
    assert "Traceback" not in done.stderr and "配置有" not in done.stderr


def test_permission_and_address_problems_have_their_own_status():
    told, status = startup_errors.describe(
        PermissionError(errno.EACCES, "Permission denied", "/run/yuqingd"))
    assert status == EX_NOPERM and "没有权限写入 /run/yuqingd" in told
    told, status = startup_errors.describe(
        OSError(errno.EADDRINUSE, "Address already in use"))
    assert status == EX_UNAVAILABLE and "地址已被占用" in told and "http.listen" in told
    group = BaseExceptionGroup("nursery", [ValueError("other"), BaseExceptionGroup(
        "inner", [FileNotFoundError(errno.ENOENT, "No such file", "/run/yuqingd")])])
    found = startup_errors.os_error_in(group)
    assert isinstance(found, FileNotFoundError) and found.filename == "/run/yuqingd"


def test_a_config_that_cannot_be_read_is_not_counted_as_a_config_error(tmp_path):
    folder = tmp_path / "yuqingd.yaml"
    folder.mkdir()  # read() fails on it as on a file without read permission
    done = yuqingd("check", "--config", str(folder))
    assert done.returncode == EX_NOINPUT, done.stderr
    assert done.stderr.startswith(f"{folder}:1:1: 无法读取文件")
    assert "配置有" not in done.stderr and "Traceback" not in done.stderr


def test_the_time_zone_resolves_on_a_system_without_tzdata(tmp_path):
    """zoneinfo finds no zone files here (an empty TZPATH): the tzdata package answers."""
    empty = tmp_path / "no-zoneinfo"
    empty.mkdir()
    done = yuqingd("check", "--config", str(demo_copy(tmp_path)),
                   env={"PYTHONTZPATH": str(empty)})
    assert done.returncode == 0, done.stderr
    assert "未知时区" not in done.stderr
