"""The SQLite backend of the store API (:mod:`yuqingd.store.api`): all of yuqingd's SQL, its
migrations and its report queries. Nothing outside :mod:`yuqingd.store` imports ``sqlite3``,
and nothing outside it names this backend except :func:`yuqingd.store.open_store`."""

from yuqingd.store.api import DeadlineRow, IncidentRow, OutboxRow, StateInUse
from yuqingd.store.sqlite.store import SqliteStore

Store = SqliteStore  # the name tests and older code construct

__all__ = ["DeadlineRow", "IncidentRow", "OutboxRow", "SqliteStore", "StateInUse", "Store"]
