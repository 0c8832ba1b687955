"""Durations as policy staff write them: ``30s``, ``15m``, ``1h30m``, ``2d``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
# Ten years: longer than any window, deadline or lead a bureau writes, short enough that every
# moment it reaches is a date (time arithmetic far beyond it overflows).
MAX_DURATION = 3650 * 86400.0


def parse_duration(text: str | int | float) -> float:
    """Seconds in ``text``; a bare number is seconds. Raises ValueError with a Chinese message."""
    if isinstance(text, bool):
        raise ValueError(f"时长格式错误: {text!r}（示例: 30s, 15m, 1h30m, 2d）")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError(f"时长不能为负数: {text}")
        return _in_range(text, text)
    compact = str(text).strip().replace(" ", "")
    if len(compact) > 64:
        raise ValueError(f"时长格式错误: {text!r:.40}…（示例: 30s, 15m, 1h30m, 2d）")
    parts = _PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"时长格式错误: {text!r}（示例: 30s, 15m, 1h30m, 2d）")
    return _in_range(sum(float(n) * _UNITS[u] for n, u in parts), text)


def _in_range(seconds: float | int, text: object) -> float:
    if not seconds <= MAX_DURATION:  # also NaN and infinity
        raise ValueError(f"时长超出范围: {text!r:.40}（上限 3650d，即十年）")
    return float(seconds)


def format_duration(seconds: float) -> str:
    """Shortest readable form, the inverse of :func:`parse_duration` for whole units."""
    remaining = int(round(seconds))
    if remaining == 0:
        return "0s"
    out = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def format_duration_zh(seconds: float, *, spaced: bool = False, days: bool = True) -> str:
    """For people reading Chinese: ``1小时30分钟`` (``1 小时 30 分钟`` when ``spaced``); without
    ``days`` a day is ``24小时``."""
    units: tuple[tuple[str, int], ...] = (("天", 86400),) if days else ()
    units += (("小时", 3600), ("分钟", 60), ("秒", 1))
    gap = " " if spaced else ""
    parts, remaining = [], int(round(seconds))
    for name, size in units:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{gap}{name}")
    return gap.join(parts) or f"0{gap}秒"
