"""The SQLite backend of the store API: all SQL of yuqingd, its migrations and report queries.
Nothing outside :mod:`yuqingd.store` imports ``sqlite3``."""

from yuqingd.store.sqlite.store import DeadlineRow, IncidentRow, OutboxRow, StateInUse, Store

__all__ = ["DeadlineRow", "IncidentRow", "OutboxRow", "StateInUse", "Store"]
