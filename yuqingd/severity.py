"""The one severity order of incidents and items: 一般 < 较大 < 重大 < 特别重大 (the categories of
the public-opinion emergency plans). Everything that compares, ranks, lowers or lists severities
uses this module: the rule language (``severity_at_least``, the ``severity`` number), the
pipeline's topic severities, silences (never the leader level of 重大 and up), quiet downgrades,
the reports and the store's report queries."""

from __future__ import annotations

from typing import Literal, get_args

Severity = Literal["一般", "较大", "重大", "特别重大"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)  # least severe first
LOWEST: Severity = SEVERITIES[0]
RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}  # 一般 0 … 特别重大 3


def rank(severity: str, unknown: int = -1) -> int:
    """0 for 一般 … 3 for 特别重大; ``unknown`` for any other value."""
    return RANK.get(severity, unknown)


def lower(severity: str) -> str:
    """One step less severe (一般 stays 一般)."""
    return SEVERITIES[max(RANK[severity] - 1, 0)]


def at_least(severity: str, floor: str) -> bool:
    """Whether ``severity`` is ``floor`` or above (an unknown value is below everything)."""
    return rank(severity) >= RANK[floor]
