"""Packaging: the systemd unit, sysusers/tmpfiles entries and the production example config.

These run ``systemd-analyze`` offline; it needs no running systemd, only the ``systemd`` package.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from yuqingd.time.durations import parse_duration

from .conftest import REPO

UNIT = REPO / "packaging" / "systemd" / "yuqingd.service"
SYSUSERS = REPO / "packaging" / "sysusers.d" / "yuqingd.conf"
TMPFILES = REPO / "packaging" / "tmpfiles.d" / "yuqingd.conf"
EXAMPLE_CONFIG = REPO / "etc" / "yuqingd.yaml"
DEMO_RULES = REPO / "rules" / "demo.yaml"

# `security --threshold` is on a 0-100 scale: 12 means an exposure of at most 1.2.
MAX_EXPOSURE = 1.2
# What the daemon's job needs and therefore stays exposed; every other check must pass.
ALLOWED_EXPOSURES = {
    "PrivateNetwork",  # it fetches feeds from the internet
    "RestrictAddressFamilies_AF_INET_INET6",  # ditto
    "IPAddressDeny",  # feed hosts are arbitrary, so there is no allow list
    "RestrictAddressFamilies_AF_UNIX",  # control socket, journal, sd_notify
    "RootDirectoryOrRootImage",  # runs from the host's /opt
    "DeviceAllow",  # char-rtc:r, implied by ProtectClock=yes
}

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (apt-get install systemd)",
)


def unit_settings(path: Path = UNIT) -> dict[str, list[str]]:
    """``Section.Key`` -> every value assigned to it, in order (keys may repeat in units)."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        settings.setdefault(f"{section}.{key.strip()}", []).append(value.strip())
    return settings


def unit_value(key: str) -> str:
    return unit_settings()[key][-1]


def runnable_unit_copy(tmp_path: Path) -> Path:
    """A copy of the unit whose Exec*= programs exist here (verify checks they are executable)."""
    stand_in = shutil.which("yuqingd", path=str(Path(sys.executable).parent)) or sys.executable
    lines = []
    for line in UNIT.read_text(encoding="utf-8").splitlines(keepends=True):
        match = re.match(r"(Exec\w+=[-@:+!]*)(\S+)(.*)", line, re.DOTALL)
        if match and not os.access(match[2], os.X_OK):
            line = f"{match[1]}{stand_in}{match[3]}"
        lines.append(line)
    copy = tmp_path / UNIT.name  # the unit name comes from the file name
    copy.write_text("".join(lines), encoding="utf-8")
    return copy


def analyze(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""},
    )


def example_config() -> dict:
    return yaml.safe_load(EXAMPLE_CONFIG.read_text(encoding="utf-8"))


@needs_systemd_analyze
def test_unit_passes_systemd_analyze_verify(tmp_path):
    """`systemd-analyze verify` has nothing to say about the unit (it warns but exits 0)."""
    result = analyze("verify", "--man=no", runnable_unit_copy(tmp_path))
    assert result.returncode == 0
    assert result.stdout + result.stderr == ""


@needs_systemd_analyze
def test_unit_verify_check_catches_a_misspelt_key(tmp_path):
    """The verify check above fails on a misspelt key, so an empty output means something."""
    copy = runnable_unit_copy(tmp_path)
    copy.write_text(copy.read_text().replace("ProtectSystem=", "ProtectSytem="))
    result = analyze("verify", "--man=no", copy)
    assert "Unknown key 'ProtectSytem'" in result.stderr


@needs_systemd_analyze
def test_unit_security_exposure_is_at_most_1_2():
    """`systemd-analyze security --offline` rates the unit OK with exposure <= 1.2."""
    result = analyze("security", "--offline=yes", "--threshold=12", UNIT)
    assert result.returncode == 0, result.stdout
    assert result.stderr == ""
    overall = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", result.stdout)
    assert overall, result.stdout
    assert float(overall[1]) <= MAX_EXPOSURE
    assert overall[2] == "OK"


@needs_systemd_analyze
def test_unit_security_exposes_only_what_the_daemon_needs():
    """Every failed security check is one the daemon's job requires (network, socket, /opt)."""
    result = analyze("security", "--offline=yes", "--json=short", UNIT)
    assert result.returncode == 0, result.stderr
    exposed = {
        check["json_field"]
        for check in json.loads(result.stdout)
        if not check["set"] and check["exposure"] not in (None, "0.0")
    }
    assert exposed <= ALLOWED_EXPOSURES


def test_unit_runs_as_the_static_sysusers_user():
    """The unit runs as the user sysusers.d creates, not a DynamicUser, so sudo -u works."""
    entries = [
        line.split()
        for line in SYSUSERS.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert [(e[0], e[1]) for e in entries] == [("u", "yuqingd")]
    assert unit_value("Service.User") == unit_value("Service.Group") == "yuqingd"
    assert unit_settings().get("Service.DynamicUser", ["no"])[-1] == "no"


def test_unit_stop_timeout_exceeds_shutdown_grace():
    """systemd waits longer than the example config's drain time before it sends SIGKILL."""
    grace = parse_duration(example_config()["shutdown_grace"])
    assert parse_duration(unit_value("Service.TimeoutStopSec")) > grace


def test_unit_directories_match_example_config():
    """State, socket and notifier paths in the example config lie in the unit's writable dirs."""
    config = example_config()
    state_dir = PurePosixPath("/var/lib") / unit_value("Service.StateDirectory")
    runtime_dir = PurePosixPath("/run") / unit_value("Service.RuntimeDirectory")
    assert PurePosixPath(config["state_dir"]) == state_dir
    assert PurePosixPath(config["control_socket"]).parent == runtime_dir
    for notifier in config["notifiers"]:
        if "path" in notifier:
            assert PurePosixPath(notifier["path"]).is_relative_to(state_dir), notifier
    assert unit_value("Service.ExecStart").endswith("--config /etc/yuqingd/yuqingd.yaml")


# Where the .deb installs the files the example config names (packaging/debian/build-in-root.sh).
INSTALLED_RULES = {"/usr/share/yuqingd/rules/": REPO / "rules",
                   "/etc/yuqingd/rules/": REPO / "packaging" / "debian"}


def installed_rule_source(rule_file: str) -> Path:
    for prefix, folder in INSTALLED_RULES.items():
        if rule_file.startswith(prefix) and "/" not in rule_file[len(prefix):]:
            return folder / rule_file[len(prefix):]
    raise AssertionError(f"{rule_file} is neither a shipped pack nor a local rule file")


def test_example_config_refers_to_installed_rule_files():
    """The shipped example names the packaged rule packs and the local conffile, each of which
    the package installs from this repository."""
    rules = example_config()["rules"]
    assert "/etc/yuqingd/rules/local.yaml" in rules
    for rule_file in rules:
        assert installed_rule_source(rule_file).is_file(), rule_file


def test_example_config_passes_yuqingd_check(tmp_path):
    """`yuqingd check` accepts the example config with the rule files the package installs."""
    config = example_config()
    config["rules"] = [str(installed_rule_source(r)) for r in config["rules"]]
    copy = tmp_path / "yuqingd.yaml"
    copy.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "yuqingd", "check", "--config", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "1 个信息源，1 个通知渠道" in result.stdout


@pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemd-tmpfiles") is None,
    reason="systemd-sysusers/systemd-tmpfiles are not installed (apt-get install systemd)",
)
@pytest.mark.skipif(os.geteuid() != 0, reason="systemd-tmpfiles must run as root to chown")
def test_sysusers_and_tmpfiles_create_user_and_private_state_dir(tmp_path):
    """In an empty root, sysusers creates yuqingd and tmpfiles gives it a 0700 state dir."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for tool, conf in (("systemd-sysusers", SYSUSERS), ("systemd-tmpfiles", TMPFILES)):
        args = [tool, f"--root={root}"] + (["--create"] if tool == "systemd-tmpfiles" else [])
        # with --root, a relative config path would be looked up inside the root
        result = subprocess.run(
            [*args, str(conf.resolve())], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in (root / "etc" / "passwd").read_text().splitlines()
    }
    uid, gid = int(passwd["yuqingd"][2]), int(passwd["yuqingd"][3])
    assert passwd["yuqingd"][5:] == ["/var/lib/yuqingd", "/usr/sbin/nologin"]
    state = (root / "var" / "lib" / "yuqingd").stat()
    assert (state.st_uid, state.st_gid, state.st_mode & 0o7777) == (uid, gid, 0o700)
    config_dir = (root / "etc" / "yuqingd").stat()
    assert (config_dir.st_uid, config_dir.st_gid, config_dir.st_mode & 0o7777) == (0, gid, 0o750)


def test_unit_bounds_memory_and_readme_says_how():
    """MemoryHigh= below MemoryMax= in the unit, both named with their values in the README."""
    unit = UNIT.read_text(encoding="utf-8")
    values = dict(re.findall(r"^(MemoryHigh|MemoryMax)=(\d+)M$", unit, flags=re.M))
    assert set(values) == {"MemoryHigh", "MemoryMax"}
    assert 256 <= int(values["MemoryHigh"]) < int(values["MemoryMax"])
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for key, value in values.items():
        assert f"{key}={value}M" in readme
