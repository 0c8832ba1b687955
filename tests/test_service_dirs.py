"""Under systemd the daemon uses the unit's StateDirectory=/RuntimeDirectory= when the config
does not name folders; `yuqingd migrate` (run by the package's postinst) upgrades the database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

from yuqingd.config import control_socket_path, load_config
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.store.sqlite import Store
from yuqingd.store.sqlite.migrations import MIGRATIONS
from yuqingd.testing import Harness

from .conftest import CONFIG

WITHOUT_FOLDERS = "\n".join(
    line for line in CONFIG.splitlines() if not line.startswith(("state_dir", "control_socket"))
) + "\n"


def load(path):
    return load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))


def test_systemd_directories_are_the_defaults(make_config, tmp_path, monkeypatch):
    """$STATE_DIRECTORY (its first folder) and $RUNTIME_DIRECTORY/control.sock; the CLI's
    socket lookup under the same environment finds the same socket."""
    monkeypatch.setenv("STATE_DIRECTORY", f"{tmp_path}/state:{tmp_path}/other")
    monkeypatch.setenv("RUNTIME_DIRECTORY", f"{tmp_path}/run")
    path = make_config(WITHOUT_FOLDERS)
    config = load(path)
    assert config.state_dir == tmp_path / "state"
    assert config.database == tmp_path / "state" / "yuqingd.sqlite3"
    assert config.control_socket == tmp_path / "run" / "control.sock"
    assert control_socket_path(path) == config.control_socket


def test_without_systemd_the_defaults_are_var_lib(make_config, monkeypatch):
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("RUNTIME_DIRECTORY", raising=False)
    config = load(make_config(WITHOUT_FOLDERS))
    assert str(config.state_dir) == "/var/lib/yuqingd"
    assert str(config.control_socket) == "/var/lib/yuqingd/control.sock"


def test_folders_written_in_the_config_win(make_config, tmp_path, short_dir, monkeypatch):
    monkeypatch.setenv("STATE_DIRECTORY", "/nowhere/state")
    monkeypatch.setenv("RUNTIME_DIRECTORY", "/nowhere/run")
    path = make_config()
    config = load(path)
    assert config.state_dir == tmp_path / "state"
    assert config.control_socket == short_dir / "control.sock"
    assert control_socket_path(path) == short_dir / "control.sock"


def migrate(path):
    return subprocess.run([sys.executable, "-m", "yuqingd", "migrate", "--config", str(path)],
                          capture_output=True, text=True, timeout=60)


def test_migrate_brings_an_old_database_to_the_current_schema(make_config, tmp_path):
    """A database at schema 1 is migrated to the newest, keeping its rows; again is a no-op."""
    path = make_config()
    (tmp_path / "state").mkdir()
    database = tmp_path / "state" / "yuqingd.sqlite3"
    with sqlite3.connect(database) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("PRAGMA user_version=1")
        db.execute("INSERT INTO source_cursors (source, cursor, updated_at)"
                   " VALUES ('forum', 'c1', 1)")
    result = migrate(path)
    assert result.returncode == 0, result.stderr
    assert f"数据库架构版本 1 → {len(MIGRATIONS)}" in result.stdout
    with sqlite3.connect(database) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert db.execute("SELECT cursor FROM source_cursors").fetchall() == [("c1",)]
    again = migrate(path)
    assert f"数据库架构版本 {len(MIGRATIONS)} → {len(MIGRATIONS)}" in again.stdout


def test_migrate_refuses_while_the_daemon_holds_the_database(make_config, tmp_path):
    path = make_config()
    store = Store(tmp_path / "state" / "yuqingd.sqlite3")  # as the running daemon does
    try:
        result = migrate(path)
    finally:
        store.close()
    assert result.returncode == 75
    assert "另一个 yuqingd 正在使用" in result.stderr


def test_migrate_without_a_database_does_nothing(make_config, tmp_path):
    result = migrate(make_config())
    assert result.returncode == 0
    assert "无需迁移" in result.stdout
    assert not (tmp_path / "state").exists()
