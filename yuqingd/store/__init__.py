"""The store: everything the daemon keeps. :mod:`yuqingd.store.api` is the interface (a Protocol
and typed rows) every other module depends on; backends (:mod:`yuqingd.store.sqlite`) hold all
SQL. Nothing outside this package imports ``sqlite3``, issues a query or decodes a column."""

from __future__ import annotations

from pathlib import Path

from yuqingd.store.api import StateInUse, Store, StoreError

__all__ = ["StateInUse", "Store", "StoreError", "open_store"]


def open_store(path: Path) -> Store:
    """Open (and migrate) the daemon's database at ``path``; raises StateInUse when another
    process holds it."""
    from yuqingd.store.sqlite.store import SqliteStore

    return SqliteStore(path)
