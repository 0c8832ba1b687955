"""Authors are personal information (PIPL): they are kept only as a salted hash.

The hash is enough to see one account posting again and again, and to match a rule's
``author_in`` list, but without the per-install salt (a file of random bytes in the state
directory, readable by the daemon's user only) nobody holding a copy of the database can check a
guessed account name against it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

SALT_FILE = "author-salt"
_HEX = frozenset("0123456789abcdef")


def hash_author(author: str, salt: bytes = b"") -> str:
    """The stored form of an author: 16 hex digits of HMAC-SHA256 under ``salt``."""
    if not author:
        return ""
    return hmac.new(salt, author.strip().encode(), hashlib.sha256).hexdigest()[:16]


def is_author_hash(text: str) -> bool:
    """A value written in an ``author_in`` list as a hash rather than as a name."""
    return len(text) == 16 and _HEX.issuperset(text)


def load_salt(state_dir: Path) -> bytes:
    """The install's salt, created (0600, 32 random bytes) on first use."""
    path = Path(state_dir) / SALT_FILE
    try:
        salt = path.read_bytes()
        if len(salt) >= 16:
            return salt
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    salt = secrets.token_bytes(32)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(salt)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    return salt


def author_hashes(entries: frozenset[str], salt: bytes) -> frozenset[str]:
    """An ``author_in`` list as the hashes to compare with: names are hashed under ``salt``;
    entries already written as hashes (16 hex digits) are taken as they are."""
    return frozenset(e if is_author_hash(e) else hash_author(e, salt) for e in entries)
