"""The item rows of a parsed page, by the source's selectors."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from yuqingd.time.chinese_times import parse_chinese_time

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Row:
    title: str
    link: str  # absolute
    time_text: str = ""
    published: dt.datetime | None = None
    author: str = ""
    summary: str = ""
    comments: str = ""
    reposts: str = ""


def read_rows(tree: LexborHTMLParser, options: Any, page_url: str, now: dt.datetime) -> list[Row]:
    """Every row with a title and a link, in page order; rows without (separators, ads) are
    left out."""
    base = _base(tree, page_url)
    rows = []
    for node in tree.css(options.items):
        title_node = node.css_first(options.title)
        if title_node is None:
            continue
        title = _text(title_node)
        href = _href(node, title_node, options.link)
        if not title or not href or href.startswith(("javascript:", "#")):
            continue
        time_text, published = _time(node, options, now)
        rows.append(Row(
            title=title, link=urljoin(base, href), time_text=time_text, published=published,
            author=_text_of(node, options.author), summary=_text_of(node, options.summary),
            comments=_text_of(node, options.comments), reposts=_text_of(node, options.reposts)))
    return rows


def next_page(tree: LexborHTMLParser, selector: str | None, page_url: str) -> str | None:
    """The absolute URL of the next page's link, or None."""
    if not selector or (link := tree.css_first(selector)) is None:
        return None
    href = (link.attributes.get("href") or "").strip()
    if not href or href.startswith(("javascript:", "#")):
        return None
    return urljoin(_base(tree, page_url), href)


def _base(tree: LexborHTMLParser, page_url: str) -> str:
    if (tag := tree.css_first("base[href]")) is not None:
        return urljoin(page_url, tag.attributes.get("href") or "")
    return page_url


def _text(node: LexborNode) -> str:
    # No separator: search pages split a name across tags (<em>六处</em>学校), and a space
    # inside it would stop the watched name from matching.
    return _SPACES.sub(" ", node.text(separator="")).strip()


def _text_of(row: LexborNode, selector: str | None) -> str:
    if not selector:
        return ""
    found = row.css_first(selector)
    return _text(found) if found is not None else ""


def _href(row: LexborNode, title: LexborNode, selector: str | None) -> str:
    if selector:
        found = row.css_first(selector)
        link = found if found is not None else None
    elif title.tag == "a":
        link = title
    else:
        link = title.css_first("a[href]")
    if link is None:
        return ""
    return (link.attributes.get("href") or "").strip()


def _time(row: LexborNode, options: Any, now: dt.datetime) -> tuple[str, dt.datetime | None]:
    """The row's time text and the moment it names (None when no form fits)."""
    if not options.time or (node := row.css_first(options.time)) is None:
        return "", None
    attributes = node.attributes
    first = [options.time_attribute] if options.time_attribute else []
    candidates = [attributes.get(name) for name in first] + [_text(node)]
    if not options.time_attribute:
        candidates.append(attributes.get("datetime"))
    for text in candidates:
        if text and (moment := parse_chinese_time(text, now)) is not None:
            return text, moment
    return _text(node), None
