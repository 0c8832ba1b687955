"""Text normalisation applied before any matching, keeping offsets into the original.

:func:`normalize` turns what a scraper hands us into one canonical form: HTML tags removed (block
tags become a line break) and entities decoded, zero-width and control characters dropped,
NFKC (全角 → 半角, ① → 1, compatibility ideographs), 繁體 → 简体 (OpenCC ``t2s``), Latin
lower-cased, white space collapsed. :class:`Normalized` remembers where each piece came from,
so a *why* can quote what the author actually wrote (``六<b>处</b>学校``), not our canonical form.

:class:`Compact` is the view names and keywords are matched in: only letters and digits are
kept (separators, punctuation and emoji people put between characters to dodge filters vanish)
and digits are folded to one form (6 / ６ / 六 / 陆 → 六), again with offsets.
"""

from __future__ import annotations

import bisect
import functools
import html
import re
import unicodedata
from dataclasses import dataclass

import opencc

_BLOCK_TAGS = r"(?:br|p|div|li|tr|h[1-6]|blockquote|section|article)"
# One pass finds everything that is not copied through as it is.
_SPECIAL = re.compile(
    rf"(?P<block></?{_BLOCK_TAGS}\b[^<>]{{0,500}}>)"
    r"|(?P<tag></?[a-zA-Z][a-zA-Z0-9]{0,15}\b[^<>]{0,500}>|<!--.{0,2000}?-->)"
    r"|(?P<entity>&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]{1,31});)"
    r"|(?P<drop>[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\u034f\u061c\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb]+)"
    r"|(?P<space>\s{2,}|[^\S ])",
    re.DOTALL,
)
# Cheap test for the common case: nothing but ordinary text.
_ANY_SPECIAL = re.compile(
    r"[<&\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u00ad\u034f\u061c\u180e\u200b-\u200f"
    r"\u202a-\u202e\u2060-\u206f\ufe00-\ufe0f\ufeff\ufff9-\ufffb]|\s\s|[^\S ]")


_T2S = opencc.OpenCC("t2s")
_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@functools.lru_cache(maxsize=65536)
def _t2s_char(ch: str) -> str:
    out = _T2S.convert(ch)
    return out if len(out) == 1 else ch


class _Builder:
    """Pieces of output, each remembering the original span it came from."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.norm_starts: list[int] = []
        self.orig_starts: list[int] = []
        self.orig_ends: list[int] = []
        self.exact: list[bool] = []  # copied one to one: offsets inside it add up
        self.length = 0

    def add(self, out: str, start: int, end: int, exact: bool) -> None:
        if not out:
            return
        self.parts.append(out)
        self.norm_starts.append(self.length)
        self.orig_starts.append(start)
        self.orig_ends.append(end)
        self.exact.append(exact)
        self.length += len(out)


@dataclass(frozen=True, eq=False)
class Normalized:
    """A normalised text and the way back to the original."""

    original: str
    text: str
    _norm_starts: tuple[int, ...]
    _orig_starts: tuple[int, ...]
    _orig_ends: tuple[int, ...]
    _exact: tuple[bool, ...]

    def _to_original(self, pos: int, *, end: bool) -> int:
        if not self._norm_starts:
            return 0
        if end:
            pos -= 1  # the last character of the span decides where it ends
        i = max(0, bisect.bisect_right(self._norm_starts, pos) - 1)
        if self._exact[i]:
            offset = pos - self._norm_starts[i]
            return self._orig_starts[i] + offset + (1 if end else 0)
        return self._orig_ends[i] if end else self._orig_starts[i]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """The original span of normalised ``text[start:end]``."""
        if end <= start:
            at = self._to_original(start, end=False)
            return at, at
        return self._to_original(start, end=False), self._to_original(end, end=True)

    def quote(self, start: int, end: int) -> str:
        """What the author wrote for normalised ``text[start:end]``."""
        a, b = self.span(start, end)
        return self.original[a:b]

    def from_original(self, pos: int) -> int:
        """The normalised position of the first character at or after original ``pos``."""
        i = bisect.bisect_right(self._orig_starts, pos) - 1
        if i < 0:
            return 0
        if self._exact[i] and pos < self._orig_ends[i]:
            return self._norm_starts[i] + pos - self._orig_starts[i]
        return self._norm_starts[i + 1] if i + 1 < len(self._norm_starts) else len(self.text)


def normalize_text(original: str) -> Normalized:
    """``original`` normalised (see the module docstring), with offsets."""
    b = _Builder()
    if not _ANY_SPECIAL.search(original):
        _add_nfkc(b, original, 0)
    else:
        pos = 0
        for m in _SPECIAL.finditer(original):
            if m.start() > pos:
                _add_nfkc(b, original[pos:m.start()], pos)
            kind = m.lastgroup
            s, e = m.span()
            if kind == "block":
                b.add("\n", s, e, False)
            elif kind == "entity":
                decoded = unicodedata.normalize("NFKC", html.unescape(m.group()))
                b.add(re.sub(r"\s+", " ", decoded), s, e, False)
            elif kind == "space":
                b.add("\n" if "\n" in m.group() or "\r" in m.group() else " ", s, e, False)
            # tag, drop: nothing in the output
            pos = e
        if pos < len(original):
            _add_nfkc(b, original[pos:], pos)
    text = "".join(b.parts)
    converted = _T2S.convert(text)
    if len(converted) != len(text):
        # A phrase converted to a different length (rare): convert character by character so
        # offsets stay one to one.
        converted = "".join(_t2s_char(ch) for ch in text)
    text = converted.translate(_LOWER) if _HAS_UPPER.search(converted) else converted
    if "  " in text or text[:1].isspace() or text[-1:].isspace() or " \n" in text or "\n " in text:
        return _collapse(original, text, b)
    return Normalized(original, text, tuple(b.norm_starts), tuple(b.orig_starts),
                      tuple(b.orig_ends), tuple(b.exact))


# Full-width ASCII (，？！：（）Ａ１) is most of what NFKC changes in Chinese posts: one to one.
_FULL_WIDTH = str.maketrans({chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)})
_HAS_FULL_WIDTH = re.compile("[\uff01-\uff5e]")
_HAS_UPPER = re.compile("[A-Z]")
_HAS_DIGIT = re.compile("[0-9零壹贰叁肆伍陆柒捌玖]")


def _add_nfkc(b: _Builder, run: str, at: int) -> None:
    """Copy ``run`` (found at ``at`` in the original) in NFKC, character by character only
    where NFKC changes something other than full-width ASCII."""
    if _HAS_FULL_WIDTH.search(run):
        run = run.translate(_FULL_WIDTH)
    if unicodedata.is_normalized("NFKC", run):
        b.add(run, at, at + len(run), True)
        return
    start = 0
    for i, ch in enumerate(run):
        out = unicodedata.normalize("NFKC", ch)
        if out != ch:
            if i > start:
                b.add(run[start:i], at + start, at + i, True)
            b.add(" " if out.isspace() else out, at + i, at + i + 1, False)
            start = i + 1
    if start < len(run):
        b.add(run[start:], at + start, at + len(run), True)


_RUN = re.compile(r"[ \n]{2,}|^[ \n]+|[ \n]+$")


def _collapse(original: str, text: str, b: _Builder) -> Normalized:
    """Second pass: white-space runs that only met after the first pass become one."""
    first = Normalized(original, text, tuple(b.norm_starts), tuple(b.orig_starts),
                       tuple(b.orig_ends), tuple(b.exact))
    out = _Builder()
    pos = 0
    for m in _RUN.finditer(text):
        if m.start() > pos:
            _copy(first, out, pos, m.start())
        if m.start() > 0 and m.end() < len(text):
            a, z = first.span(m.start(), m.end())
            out.add("\n" if "\n" in m.group() else " ", a, z, False)
        pos = m.end()
    if pos < len(text):
        _copy(first, out, pos, len(text))
    return Normalized(original, "".join(out.parts), tuple(out.norm_starts),
                      tuple(out.orig_starts), tuple(out.orig_ends), tuple(out.exact))


def _copy(src: Normalized, out: _Builder, start: int, end: int) -> None:
    """Copy ``src.text[start:end]`` keeping the pieces' offsets."""
    i = max(0, bisect.bisect_right(src._norm_starts, start) - 1)
    while start < end:
        piece_end = (src._norm_starts[i + 1] if i + 1 < len(src._norm_starts)
                     else len(src.text))
        stop = min(end, piece_end)
        if src._exact[i]:
            o = src._orig_starts[i] + start - src._norm_starts[i]
            out.add(src.text[start:stop], o, o + stop - start, True)
        else:
            out.add(src.text[start:stop], src._orig_starts[i], src._orig_ends[i], False)
        start = stop
        i += 1


def normalize(text: str) -> str:
    """The normalised form of ``text`` (see :func:`normalize_text`)."""
    return normalize_text(text).text


# The compact view -----------------------------------------------------------------------------

# Digits folded to one form, so 6 / ６ (after NFKC) / 六 / 陆 match alike where an entity allows.
DIGIT_FOLD = str.maketrans({
    **{str(d): c for d, c in enumerate("〇一二三四五六七八九")},
    "零": "〇", "壹": "一", "贰": "二", "叁": "三", "肆": "四", "伍": "五", "陆": "六",
    "柒": "七", "捌": "八", "玖": "九",
})
FOLDED_DIGITS = frozenset("〇一二三四五六七八九")
_NOT_WORD = re.compile(r"[\W_]+")
# Where one clause ends: negation and degree words reach no further.
CLAUSE_BREAKS = frozenset(",.!?;:，。！？；：、\n…~～")
SENTENCE_BREAKS = frozenset(".!?。！？\n")
_QUOTED = re.compile(r"[\"“「『‘'](?P<q>[^\"”」』’'\n]{1,8})[\"”」』’']")


@dataclass(frozen=True, eq=False)
class Compact:
    """Letters and digits only, digits folded; positions map back to the normalised text."""

    normalized: Normalized
    text: str  # digits folded
    plain: str  # not folded (to tell 六 from 6 where an entity does not allow both)
    _run_starts: tuple[int, ...]  # compact index where each kept run starts
    _run_origins: tuple[int, ...]  # … and where that run starts in the normalised text
    clause_breaks: tuple[int, ...]  # compact positions where a clause ends (sorted)
    sentence_breaks: tuple[int, ...]
    quoted: tuple[tuple[int, int], ...]  # compact spans inside quotation marks

    def norm_pos(self, pos: int) -> int:
        i = bisect.bisect_right(self._run_starts, pos) - 1
        return self._run_origins[i] + pos - self._run_starts[i]

    def quote(self, start: int, end: int) -> str:
        """The original text behind compact ``text[start:end]``."""
        if end <= start:
            return ""
        return self.normalized.quote(self.norm_pos(start), self.norm_pos(end - 1) + 1)

    def from_normalized(self, pos: int) -> int:
        """The compact index of the first kept character at or after normalised ``pos``."""
        if not self._run_starts:
            return 0
        return min(len(self.text), _compact_pos(self._run_starts, self._run_origins, pos))

    def clause(self, pos: int) -> int:
        return bisect.bisect_right(self.clause_breaks, pos)

    def sentence(self, pos: int) -> int:
        return bisect.bisect_right(self.sentence_breaks, pos)


def compact(n: Normalized) -> Compact:
    """The compact view of ``n`` (see the module docstring)."""
    text = n.text
    kept: list[str] = []
    run_starts: list[int] = []
    run_origins: list[int] = []
    clause: list[int] = []
    sentence: list[int] = []
    pos = 0
    length = 0
    for m in _NOT_WORD.finditer(text):
        if m.start() > pos:
            kept.append(text[pos:m.start()])
            run_starts.append(length)
            run_origins.append(pos)
            length += m.start() - pos
        run = m.group()
        if not CLAUSE_BREAKS.isdisjoint(run):
            clause.append(length)
            if not SENTENCE_BREAKS.isdisjoint(run):
                sentence.append(length)
        pos = m.end()
    if pos < len(text):
        kept.append(text[pos:])
        run_starts.append(length)
        run_origins.append(pos)
    plain = "".join(kept)
    quoted: list[tuple[int, int]] = []
    if _QUOTED.search(text):
        for m in _QUOTED.finditer(text):
            a = _compact_pos(run_starts, run_origins, m.start("q"))
            z = _compact_pos(run_starts, run_origins, m.end("q"))
            if z > a:
                quoted.append((a, z))
    folded = plain.translate(DIGIT_FOLD) if _HAS_DIGIT.search(plain) else plain
    return Compact(n, folded, plain, tuple(run_starts), tuple(run_origins),
                   tuple(clause), tuple(sentence), tuple(quoted))


def _compact_pos(run_starts: list[int] | tuple[int, ...], run_origins: list[int] | tuple[int, ...],
                 norm: int) -> int:
    """The compact index of the first kept character at or after normalised ``norm``."""
    i = bisect.bisect_right(run_origins, norm) - 1
    if i < 0:
        return 0
    run_len = (run_starts[i + 1] - run_starts[i]) if i + 1 < len(run_starts) else None
    offset = norm - run_origins[i]
    if run_len is not None and offset >= run_len:
        return run_starts[i + 1]
    return run_starts[i] + offset  # past the end of the last run: the text's length


def compact_needle(word: str) -> tuple[str, str]:
    """A configured word or name in the compact view: (folded, plain)."""
    plain = _NOT_WORD.sub("", normalize(word))
    return plain.translate(DIGIT_FOLD), plain
