"""One pass of an Aho-Corasick automaton finds every configured word in a compact view.

Needles are stored in their compact, digit-folded form (see :mod:`yuqingd.pipeline.normalize`),
so 六*处 and 6处 find 六处. A needle whose owner does not accept other digit forms is checked
against the unfolded text on a hit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import ahocorasick

from yuqingd.pipeline.normalize import FOLDED_DIGITS, compact_needle


@dataclass(frozen=True)
class Payload:
    kind: str  # entity, entity_not, topic, keyword, exclude, or a sentiment token kind
    key: Any  # what the kind needs: an entity name, a topic, (weight) …
    word: str  # as configured
    plain: str  # compact, unfolded (checked when ``exact_digits``)
    exact_digits: bool = False


class Matcher:
    def __init__(self) -> None:
        self._needles: dict[str, list[Payload]] = defaultdict(list)
        self._a = ahocorasick.Automaton()

    def add(self, word: str, kind: str, key: Any, *, exact_digits: bool = False) -> str:
        """Look for ``word``; returns its folded needle ('' when nothing is left of it)."""
        folded, plain = compact_needle(word)
        if folded:
            exact = exact_digits and not FOLDED_DIGITS.isdisjoint(folded)
            self._needles[folded].append(Payload(kind, key, word, plain, exact))
        return folded

    def build(self) -> Matcher:
        for needle, payloads in self._needles.items():
            self._a.add_word(needle, (len(needle), tuple(payloads)))
        if self._needles:
            self._a.make_automaton()
        return self

    def find(self, folded: str, plain: str) -> Iterator[tuple[int, int, Payload]]:
        """(start, end, payload) for every occurrence of every needle."""
        if not self._needles:
            return
        for last, (length, payloads) in self._a.iter(folded):
            start = last + 1 - length
            for p in payloads:
                if p.exact_digits and plain[start:last + 1] != p.plain:
                    continue
                yield start, last + 1, p
