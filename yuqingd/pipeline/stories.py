"""Stories: reposts (转载) and follow-ups of one event grouped together.

An item joins a story when either

- it is a near-duplicate of an item of that story: MinHash over character 3-grams of its
  compact text, after repost boilerplate is stripped (【转载】, 转发：, 网友爆料：, 展开全文,
  来源: lines, //@someone: chains), found through LSH banding — a dictionary look-up per band,
  so the cost per item does not grow with the number of stories — and confirmed when the
  estimated Jaccard similarity, or the containment of the shorter text in the longer
  (truncated reposts), is high enough; or
- it names the same watched entity about the same topic (asserted, see enrich) as a story seen
  within ``EVENT_WINDOW``: 六处学校 + 师德师风 is one case however differently it is told.

Otherwise it starts a new story. Stories older than ``STORY_MEMORY`` are forgotten by the index;
at start the index is rebuilt from the store (:meth:`Stories.load`), so reposts of a story found
before a restart still join it.
"""

from __future__ import annotations

import re
import zlib
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from yuqingd.model import SPREAD_WINDOW
from yuqingd.pipeline.normalize import compact, normalize_text
from yuqingd.store.api import Store

STORY_MEMORY = 7 * 86400
EVENT_WINDOW = 48 * 3600
TEXT_PREFIX = 600  # compact characters of title + text that make the signature
NUM_BINS = 63
ROWS = 3  # LSH: 21 bands of 3 rows
BANDS = NUM_BINS // ROWS
MIN_JACCARD = 0.45
MIN_CONTAINMENT = 0.75
MIN_SHINGLES_FOR_CONTAINMENT = 12
SIGNATURES_PER_STORY = 4  # the first few items' signatures stand for the story
_BITS = 26
_MASK = (1 << _BITS) - 1
_EMPTY = 1 << 40

# Boilerplate people add when they repost, in the normalised text (NFKC, 简体, lower case).
_BOILERPLATE = re.compile(
    r"[【\[](?:转载|转发|转|分享|扩散|爆料|网友爆料|求扩散|求转发|热议|突发)[】\]]"
    r"|(?:^|\n)\s*(?:来源|来自|转自|出处|原标题|原文|作者|编辑|责任编辑|记者|通讯员|图片来源|"
    r"本文来源|文章来源|原文链接|链接)\s*[:：][^\n]*"
    r"|//@[^:：\s]{1,30}[:：]"
    r"|(?:网友爆料|爆料|转发|转载|转|分享|回复|家长群转述|群里转的|朋友圈看到)\s*[:：]"
    r"|\.{2,}\s*(?:展开全文|全文)|…+\s*(?:展开全文|全文)|展开全文|收起全文|查看全文|阅读全文|"
    r"网页链接|转发微博|原图|\[图片\]|\[视频\]"
    r"|#(?=[^#\n]{1,30}#)|(?<=[^#\n])#"  # keep a #话题#'s words, drop its marks
)


def strip_boilerplate(text: str) -> str:
    """``text`` (normalised) without repost boilerplate."""
    return _BOILERPLATE.sub(" ", text)


def signature_text(title: str, text: str) -> str:
    """The compact characters a story signature is made from."""
    normalized = normalize_text(f"{title}\n{text}")
    stripped = strip_boilerplate(normalized.text)
    return compact(normalize_text(stripped)).plain[:TEXT_PREFIX]


def shingles(chars: str) -> list[int]:
    """32-bit hashes of the character 3-grams (the whole text when shorter)."""
    if len(chars) < 3:
        return [zlib.crc32(chars.encode())] if chars else []
    data = chars.encode("utf-32-le")
    return [zlib.crc32(data[i:i + 12]) for i in range(0, 4 * (len(chars) - 2), 4)]


@dataclass(frozen=True)
class Signature:
    """One-permutation MinHash with rotation densification: ``NUM_BINS`` values, and the
    number of distinct shingles (for the containment estimate)."""

    values: tuple[int, ...]
    size: int

    def similarity(self, other: Signature) -> tuple[float, float]:
        """(estimated Jaccard, estimated containment of the smaller in the larger)."""
        same = sum(a == b for a, b in zip(self.values, other.values, strict=True))
        j = same / NUM_BINS
        small = min(self.size, other.size)
        if small == 0:
            return j, 0.0
        inter = j * (self.size + other.size) / (1 + j)
        return j, min(1.0, inter / small)

    def matches(self, other: Signature) -> bool:
        j, c = self.similarity(other)
        if j >= MIN_JACCARD:
            return True
        return c >= MIN_CONTAINMENT and min(self.size, other.size) >= MIN_SHINGLES_FOR_CONTAINMENT

    def bands(self) -> list[int]:
        v = self.values
        return [hash((b, *v[b * ROWS:(b + 1) * ROWS])) for b in range(BANDS)]

    def to_bytes(self) -> bytes:
        return b"".join(x.to_bytes(6, "big") for x in (self.size, *self.values))

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        numbers = [int.from_bytes(data[i:i + 6], "big") for i in range(0, len(data), 6)]
        return cls(tuple(numbers[1:]), numbers[0])


def signature(title: str, text: str) -> Signature:
    hashes = set(shingles(signature_text(title, text)))
    bins = [_EMPTY] * NUM_BINS
    for h in hashes:
        h = (h * 0x9E3779B1) & 0xFFFFFFFF
        b = h % NUM_BINS
        value = h >> 6 & _MASK
        if value < bins[b]:
            bins[b] = value
    if hashes and _EMPTY in bins:
        # Rotation densification: an empty bin takes the next non-empty bin's value, marked by
        # the distance, so two texts agree on it only when they agree on that bin.
        filled = list(bins)
        for i in range(NUM_BINS):
            if bins[i] == _EMPTY:
                for step in range(1, NUM_BINS):
                    j = (i + step) % NUM_BINS
                    if bins[j] != _EMPTY:
                        filled[i] = bins[j] + (step << _BITS)
                        break
        bins = filled
    return Signature(tuple(bins), len(hashes))


@dataclass
class _Story:
    id: int
    first_seen: float
    last_seen: float
    signatures: list[Signature] = field(default_factory=list)
    keys: list[int] = field(default_factory=list)  # band keys it is indexed under
    recent: deque[float] = field(default_factory=deque)  # item times within SPREAD_WINDOW


class StoryIndex:
    """Recent stories, found by LSH band and by (entity, topic); memory only — the store keeps
    what is needed to rebuild it (see :meth:`Stories.load`)."""

    def __init__(self) -> None:
        self._stories: dict[int, _Story] = {}
        self._bands: dict[int, set[int]] = {}
        self._events: dict[tuple[str, str], tuple[int, float]] = {}
        self._by_age: deque[tuple[float, int]] = deque()

    def __len__(self) -> int:
        return len(self._stories)

    def find(self, sig: Signature, events: Iterable[tuple[str, str]], at: float) -> int | None:
        """The story an item belongs to, or None."""
        self._forget(at - STORY_MEMORY)
        best: tuple[float, int] | None = None
        seen: set[int] = set()
        for key in sig.bands():
            for story_id in self._bands.get(key, ()):
                if story_id in seen:
                    continue
                seen.add(story_id)
                story = self._stories[story_id]
                for other in story.signatures:
                    if sig.matches(other):
                        j, c = sig.similarity(other)
                        score = max(j, c)
                        if best is None or (score, story.last_seen) > (
                                best[0], self._stories[best[1]].last_seen):
                            best = (score, story_id)
        if best is not None:
            return best[1]
        for key in events:
            held = self._events.get(key)
            if held and at - held[1] <= EVENT_WINDOW and held[0] in self._stories:
                return held[0]
        return None

    def recent(self, story_id: int, at: float) -> int:
        """Items of the story within the last ``SPREAD_WINDOW`` up to ``at``."""
        story = self._stories.get(story_id)
        if story is None:
            return 0
        return sum(1 for t in story.recent if at - SPREAD_WINDOW <= t <= at)

    def spread(self, story_id: int, at: float) -> float:
        """Items per hour in the story over the last ``SPREAD_WINDOW`` up to ``at``."""
        return self.recent(story_id, at) * 3600 / SPREAD_WINDOW

    def add(self, story_id: int, sig: Signature, events: Iterable[tuple[str, str]], at: float,
            first_seen: float | None = None) -> None:
        """Record an item of ``story_id`` (a new or a found story)."""
        story = self._stories.get(story_id)
        if story is None:
            story = self._stories[story_id] = _Story(story_id, first_seen or at, at)
        story.last_seen = max(story.last_seen, at)
        self._by_age.append((story.last_seen, story_id))
        story.recent.append(at)
        while story.recent and story.recent[0] < at - SPREAD_WINDOW:
            story.recent.popleft()
        if len(story.signatures) < SIGNATURES_PER_STORY and sig.size and not any(
                s.values == sig.values for s in story.signatures):
            story.signatures.append(sig)
            for key in sig.bands():
                self._bands.setdefault(key, set()).add(story_id)
                story.keys.append(key)
        for key in events:
            self._events[key] = (story_id, at)

    def seen(self, story_id: int, at: float) -> None:
        """The story was last seen at ``at`` (rebuilding: by an item not loaded again)."""
        story = self._stories.get(story_id)
        if story is not None and at > story.last_seen:
            story.last_seen = at
            self._by_age.append((at, story_id))

    def _forget(self, before: float) -> None:
        while self._by_age and self._by_age[0][0] < before:
            last_seen, story_id = self._by_age.popleft()
            story = self._stories.get(story_id)
            if story is None or story.last_seen > last_seen:
                continue  # seen again since: a later entry stands for it
            del self._stories[story_id]
            for key in story.keys:
                ids = self._bands.get(key)
                if ids is not None:
                    ids.discard(story_id)
                    if not ids:
                        del self._bands[key]


class Stories:
    """Story assignment inside the pipeline's transaction: the index finds, the store keeps."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.index = StoryIndex()

    def assign(self, title: str, text: str, at: float,
               events: Iterable[tuple[str, str]] = ()) -> tuple[int, bool]:
        """The story id for an item, and whether the item starts a new story (inside the
        caller's transaction)."""
        events = list(events)
        sig = signature(title, text)
        found = self.index.find(sig, events, at)
        if found is not None:
            self.store.touch_story(found, at)
            self.index.add(found, sig, events, at)
            return found, False
        story_id = self.store.add_story(0, title, at)
        self.index.add(story_id, sig, events, at)
        return story_id, True

    def load(self, now: float) -> int:
        """Rebuild the index from the store (at start): the first items of each story seen
        within ``STORY_MEMORY`` stand for it again, as they did before, and its items of the
        last ``SPREAD_WINDOW`` count for its spread. Entity + topic links are not rebuilt
        (the store keeps an item's topics, not which of them it asserted). Returns the items
        read."""
        rows = self.store.recent_story_items(now - STORY_MEMORY, SIGNATURES_PER_STORY,
                                             now - SPREAD_WINDOW)
        for row in rows:
            self.index.add(row.story_id, signature(row.title, row.text), (), row.fetched_at,
                           row.first_seen)
        for row in rows:
            self.index.seen(row.story_id, row.last_seen)
        return len(rows)

    def spread(self, story_id: int, at: float) -> float:
        return self.index.spread(story_id, at)

    def recent(self, story_id: int, at: float) -> int:
        return self.index.recent(story_id, at)
