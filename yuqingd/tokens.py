"""Bearer tokens of the HTTP API, per person or per integration.

A token is ``yq_`` and 32 random bytes (base64url); the store keeps only its SHA-256, so a token
is shown once, when it is made, and a copy of the database cannot act. Actions taken with a
token are recorded as its ``person`` (else its name), ``via`` "api token <name>".
"""

from __future__ import annotations

import hashlib
import secrets

from yuqingd.store.api import Store, TokenRow

PREFIX = "yq_"


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def make(store: Store, name: str, person: str | None, at: float) -> tuple[TokenRow, str]:
    """A new token named ``name``: its row and the token itself (shown once). Raises
    ValueError when a live token already has that name."""
    token = PREFIX + secrets.token_urlsafe(32)
    with store.transaction():
        store.add_token(name, person, digest(token), at)
    row = store.token_by_digest(digest(token))
    assert row is not None
    return row, token


def authenticate(store: Store, token: str, at: float) -> TokenRow | None:
    """The live token ``token`` is, noting its use; None for an unknown or revoked one."""
    if not token.startswith(PREFIX):
        return None
    row = store.token_by_digest(digest(token))
    if row is None or row.revoked_at is not None:
        return None
    with store.transaction():
        store.touch_token(row.id, at)
    return row


def identity(row: TokenRow) -> tuple[str, str]:
    """(by, via) of an action taken with the token."""
    return row.person or row.name, f"api token {row.name}"
