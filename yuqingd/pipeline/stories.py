"""Stories: near-duplicate items (reposts, 转载) grouped by SimHash of their text.

An item joins the most recent story seen within ``STORY_MEMORY`` whose 64-bit SimHash (over
character 3-grams of the normalised title and the start of the text) differs in at most
``MAX_DISTANCE`` bits; otherwise it starts a new story.
"""

from __future__ import annotations

import hashlib

from yuqingd.pipeline.normalize import normalize
from yuqingd.store.api import Store

MAX_DISTANCE = 8
STORY_MEMORY = 7 * 86400
TEXT_PREFIX = 400
_MASK = (1 << 64) - 1


def simhash(text: str) -> int:
    """64-bit SimHash over character 3-grams (whitespace and punctuation dropped)."""
    chars = [c for c in normalize(text) if c.isalnum()]
    grams = ["".join(chars[i : i + 3]) for i in range(max(1, len(chars) - 2))]
    weights = [0] * 64
    for gram in grams:
        h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


def _signed(value: int) -> int:  # SQLite integers are signed 64-bit
    return value - (1 << 64) if value >= 1 << 63 else value


def distance(a: int, b: int) -> int:
    return ((a ^ b) & _MASK).bit_count()


class Stories:
    def __init__(self, store: Store):
        self.store = store

    def assign(self, title: str, text: str, at: float) -> tuple[int, bool]:
        """The story id for an item, and whether the item starts a new story (inside the
        caller's transaction)."""
        fingerprint = simhash(f"{title}\n{text[:TEXT_PREFIX]}")
        best = None
        for story_id, stored in self.store.recent_stories(at - STORY_MEMORY):
            d = distance(fingerprint, stored & _MASK)
            if d <= MAX_DISTANCE and (best is None or d <= best[1]):
                best = (story_id, d)
        if best is not None:
            self.store.touch_story(best[0], at)
            return best[0], False
        return self.store.add_story(_signed(fingerprint), title, at), True
