"""Notification cards: the message a channel shows, rendered from packaged templates.

Each notification kind has an entry in ``zh.yaml`` (Chinese, the reference) and ``en.yaml``
(``lang: en``): its 【label】, a lead sentence, a header colour and which body it has —
``fields`` (severity, watched name, items with links, deadlines, action links, laid out from the
structured fields) or ``text``/``lines`` (the text the core wrote: reports, summaries). The
layout of each format is one Jinja template in ``templates/``: ``card.md.j2`` (the markdown the
DingTalk, WeCom and Feishu robots show), ``card.txt.j2`` (plain text: e-mail, webhook) and
``card.html.j2`` (e-mail, autoescaped). Times are shown in the configured zone with their UTC
offset, e.g. ``2026-05-12 14:30（UTC+08:00）``.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo

import jinja2
import jinja2.sandbox
import structlog
import yaml

from yuqingd.model import Notification, NotifiedItem

Lang = Literal["zh", "en"]
LANGS: tuple[Lang, ...] = ("zh", "en")
DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
log = structlog.get_logger("yuqingd.cards")


@dataclass(frozen=True)
class Card:
    """One notification as a channel shows it; each format is rendered on demand."""

    lang: Lang
    kind: str  # the template entry used (``default`` for a kind without one)
    title: str  # 【新舆情】某中学食堂问题引发关注
    color: str  # Feishu header template: red, orange, yellow, green, blue, grey
    context: dict[str, Any]

    def markdown(self, *, heading: bool = True, limit: int | None = None) -> str:
        """The robots' markdown; ``heading=False`` when the channel shows the title itself
        (Feishu's card header); the body text is cut to keep within ``limit`` UTF-8 bytes."""
        return _render("card.md.j2", self.context, heading=heading, limit=limit)

    def text(self, *, limit: int | None = None) -> str:
        """Plain text with the links written out."""
        return _render("card.txt.j2", self.context, heading=True, limit=limit)

    def html(self) -> str:
        """An HTML fragment (e-mail)."""
        return _render("card.html.j2", self.context, heading=True, limit=None)


def card(notification: Notification, *, lang: Lang = "zh", zone: ZoneInfo | None = None,
         texts: dict[str, Any] | None = None) -> Card:
    """``notification`` as a card in ``lang``, its times in ``zone`` (default: the offset each
    time was written with, which is the daemon's configured zone); ``texts``: the operator's
    templates (:func:`yuqingd.cards.custom.load_texts`) instead of the packaged ones, which
    are used after all when the operator's fail on this notification (a lead reading
    ``n.to[0]`` of a channel addressed to nobody): an alert is never held up by its wording."""
    if texts is not None:
        try:
            return _card(notification, lang, zone, texts)
        except jinja2.TemplateError as exc:
            log.warning("card.template_failed", kind=notification.kind,
                        error=f"{type(exc).__name__}: {exc}")
    return _card(notification, lang, zone, _texts(lang))


def _card(n: Notification, lang: Lang, zone: ZoneInfo | None, texts: dict[str, Any]) -> Card:
    words = texts["words"]
    name = n.kind if n.kind in texts["kinds"] else "default"
    entry = texts["kinds"][name]
    deadline_name = functools.partial(_translated, texts.get("deadlines", {}))
    action_name = functools.partial(_translated, texts.get("actions", {}))

    def when(at: str) -> str:
        return _when(at, zone, words["time"])

    due = n.deadlines[0] if n.deadlines else None
    label = _compiled(entry["lead"]).render(n=n, due=due, deadline=deadline_name)
    title = _compiled(words["title"]).render(label=entry["label"], title=n.title)
    severity = texts.get("severities", {}).get(n.severity, n.severity)
    aside_pattern = _compiled(words["aside"])

    def aside(text: str) -> str:
        return aside_pattern.render(text=text) if text else ""

    context = {
        "w": words,
        "lang": lang,
        "title": title,
        "lead": label,
        "body": entry["body"],
        "text": _own_text(n, entry["body"]),
        "severity": severity,
        "level": _compiled(words["level"]).render(level=n.level) if n.level else "",
        "key": n.key,
        "to": words["list"].join(r.person + aside(r.role) for r in n.to),
        "aside": aside,
        "items": [{"title": i.title, "url": i.url, "source": i.source,
                   "at": when(i.at) if i.at else ""}
                  for i in n.items if entry["body"] == "fields" or not _told(i, n.text)],
        "deadlines": [{"label": _compiled(words["due"]).render(
                           label=deadline_name(d.kind, d.label)), "at": when(d.at)}
                      for d in n.deadlines],
        "actions": [{"label": action_name(a.name, a.label), "person": a.person, "url": a.url,
                     "command": a.command} for a in n.actions],
        "incident": n.incident,
        "at": when(n.at) if n.at else "",
    }
    return Card(lang=lang, kind=name, title=title, color=entry["color"], context=context)


def kinds(lang: Lang = "zh") -> tuple[str, ...]:
    """The kinds that have their own template entry in ``lang``."""
    return tuple(k for k in _texts(lang)["kinds"] if k != "default")


def _own_text(n: Notification, body: str) -> str:
    """The core's text as the card's body: for ``lines`` without its own 【tag】 (the card's
    title has one) and without a first line that only repeats the title."""
    text = n.text.strip()
    if body == "text":
        return _unfolded(text)
    if body != "lines":
        return text
    first, _, rest = text.partition("\n")
    first = _TAG.sub("", first, count=1).strip()
    if first in ("", n.title.strip()):
        return rest.strip()
    return f"{first}\n{rest}".strip()


_TAG = re.compile(r"^【[^】\n]{1,20}】")
_HEADING = re.compile(r"^(#{1,3}) ", re.MULTILINE)


_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")


def _demoted(text: str) -> str:
    """A report's headings three levels down, below the card's own ``###`` title, and its
    ``<https://…>`` links written as ``[…](…)``, the one link form every robot renders."""
    text = _AUTOLINK.sub(lambda m: f"[{m[1]}]({m[1]})", text)
    return _HEADING.sub(lambda m: "#" * (len(m[1]) + 3) + " ", text)


_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")


def _unfolded(text: str) -> str:
    """Markdown tables as one list item per row (``- 平台 forum：本班次信息数 2，…``): the
    robots show no tables, and a phone has no room for six columns."""
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("|") and i + 1 < len(lines) and _RULE.match(lines[i + 1]):
            header = _cells(lines[i])
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                row = _cells(lines[i])
                pairs = [f"{h} {c}" for h, c in zip(header, row, strict=False) if c]
                out.append(f"- {pairs[0]}：{'，'.join(pairs[1:])}" if pairs else "-")
                i += 1
            continue
        out.append(lines[i])
        i += 1
    return "\n".join(out)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _told(item: NotifiedItem, text: str) -> bool:
    """Whether the core's text already lists ``item`` (a watch summary's 最新信息)."""
    return (item.url or item.title) in text


def _translated(table: dict[str, str], name: str, label: str) -> str:
    return table.get(name, label)


def _when(at: str, zone: ZoneInfo | None, pattern: str) -> str:
    """ISO 8601 with offset → ``2026-05-12 14:30（UTC+08:00）``; unparsable text as it is."""
    try:
        moment = dt.datetime.fromisoformat(at)
    except ValueError:
        return at
    if moment.tzinfo is None:
        return at
    if zone is not None:
        moment = moment.astimezone(zone)
    offset = moment.strftime("%z")
    return _compiled(pattern).render(
        day=f"{moment:%Y-%m-%d}", clock=f"{moment:%H:%M}", offset=f"{offset[:3]}:{offset[3:5]}")


def _render(template: str, context: dict[str, Any], *, heading: bool,
            limit: int | None) -> str:
    env = _environment()
    page = env.get_template(template)
    out = _tidy(page.render(context, heading=heading, cut=False))
    if limit is None or len(out.encode()) <= limit:
        return out
    # Too long for the channel: cut the body text (reports are long), then anything else.
    text = context["text"].encode()
    over = len(out.encode()) - limit + len(context["w"]["more"].encode()) + 8
    shorter = text[:max(len(text) - over, 0)].decode(errors="ignore")
    shorter = shorter[:max(shorter.rfind("\n"), 0)].rstrip()  # at a line's end
    out = _tidy(page.render({**context, "text": shorter}, heading=heading, cut=True))
    if len(out.encode()) > limit:
        out = out.encode()[:limit - 1].decode(errors="ignore") + "\n"
    return out


def _tidy(out: str) -> str:
    return "\n".join(line.rstrip() for line in out.strip().splitlines()) + "\n"


def _md(text: str) -> str:
    """Text inside markdown: brackets would end a link, a newline would end a list item."""
    return str(text).replace("[", "【").replace("]", "】").replace("\n", " ")


def _paragraphs(text: str) -> str:
    """Plain lines as markdown paragraphs (DingTalk joins single-newline lines), list items
    kept together."""
    out: list[str] = []
    for line in text.splitlines():
        if out and not (line.startswith("- ") and out[-1].startswith("- ")):
            out.append("")
        out.append(line)
    return "\n".join(out)


@functools.cache
def _texts(lang: Lang) -> dict[str, Any]:
    source = resources.files(__package__).joinpath(f"{lang}.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(source)
    return data


@functools.lru_cache(maxsize=1024)
def _compiled(source: str) -> jinja2.Template:
    """A short template of the texts (a lead, the title, a time) compiled once: compiling
    takes about a millisecond and a card uses seven, which made a card cost ~7 ms and a
    webhook channel four times slower. Bounded: operators' files bring their own strings."""
    return _environment().from_string(source)


@functools.cache
def _environment() -> jinja2.Environment:
    # Sandboxed: an operator's template file (cards.custom) is rendered by it too.
    env = jinja2.sandbox.SandboxedEnvironment(
        loader=jinja2.PackageLoader("yuqingd.cards", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["md"] = _md
    env.filters["paragraphs"] = _paragraphs
    env.filters["demoted"] = _demoted
    return env
