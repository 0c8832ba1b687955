"""Plugins set aside after they blocked the event loop, kept in the state directory.

The loop watchdog (yuqingd.watchdog) writes an entry when the stack of a blocked loop is in a
plugin; the daemon reads the file at start and on reload and runs none of that plugin's
sources, notifiers or enrichers, so a restart does not block again. ``yuqingd plugins enable
NAME`` removes the entry. The file is JSON, 0600, replaced atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import structlog

from yuqingd.located import msg

log = structlog.get_logger("yuqingd.quarantine")

QUARANTINE_FILE = "quarantine.json"


@dataclass(frozen=True)
class Quarantined:
    plugin: str
    at: float  # epoch seconds
    blocked_for: float  # seconds the loop had run nothing when the watchdog noticed
    where: str  # the plugin's innermost frame: 'File "…", line N in run'

    def describe(self) -> str:
        return msg(
            f"已隔离：曾阻塞事件循环 {self.blocked_for:.0f} 秒（{self.where}）；"
            f"解除：yuqingd plugins enable {self.plugin}",
            f"quarantined: blocked the event loop for {self.blocked_for:.0f}s ({self.where}); "
            f"to enable again: yuqingd plugins enable {self.plugin}",
        )


def path_in(state_dir: Path) -> Path:
    return Path(state_dir) / QUARANTINE_FILE


def load(state_dir: Path) -> dict[str, Quarantined]:
    """Plugin name → entry; an unreadable file counts as empty (and is logged)."""
    path = path_in(state_dir)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {name: Quarantined(**entry) for name, entry in data["plugins"].items()}
    except FileNotFoundError:
        return {}
    except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
        log.warning("quarantine.unreadable", path=str(path), error=f"{type(exc).__name__}: {exc}")
        return {}


def add(state_dir: Path, entry: Quarantined) -> None:
    entries = load(state_dir)
    entries[entry.plugin] = entry
    _write(state_dir, entries)


def remove(state_dir: Path, plugin: str) -> bool:
    """Take ``plugin`` out of quarantine; False when it was not in it."""
    entries = load(state_dir)
    if entries.pop(plugin, None) is None:
        return False
    _write(state_dir, entries)
    return True


def _write(state_dir: Path, entries: dict[str, Quarantined]) -> None:
    path = path_in(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"plugins": {n: asdict(e) for n, e in entries.items()}}, out,
                  ensure_ascii=False, indent=2)
        out.flush()
        os.fsync(out.fileno())
    # Written by root (`sudo yuqingd plugins enable`): the service's user must still read it.
    with contextlib.suppress(OSError):
        owner = os.stat(path.parent)
        if os.geteuid() == 0 and owner.st_uid != 0:
            os.chown(tmp, owner.st_uid, owner.st_gid)
    os.replace(tmp, path)
