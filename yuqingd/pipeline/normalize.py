"""Text normalisation applied before any matching."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """NFKC (全角 → 半角, compatibility forms), lower-case Latin, collapsed white space."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text)).strip().lower()
