"""Engagement counts as Chinese pages print them: ``12``, ``1,234``, ``1.2万``, ``3千``."""

from __future__ import annotations

import re

_COUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(万|w|W|千|k|K)?")
_SCALE = {"万": 10_000, "w": 10_000, "W": 10_000, "千": 1_000, "k": 1_000, "K": 1_000}


def parse_count(text: str) -> int:
    """The first count in ``text`` (``回复 1.2万`` → 12000); 0 when there is none."""
    match = _COUNT.search(text.replace(",", "").replace("，", ""))
    if match is None:
        return 0
    number, unit = match.groups()
    return round(float(number) * _SCALE.get(unit or "", 1))
