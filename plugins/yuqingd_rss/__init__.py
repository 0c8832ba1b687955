"""RSS/Atom source: polls a feed over HTTP(S) with conditional GET.

Each entry's id is its guid (``<guid>``/``<id>``), else its link. ETag and Last-Modified travel in
the cursor, so an unchanged feed costs a 304. Duplicates across polls are dropped by the store.
"""

from __future__ import annotations

import calendar
import json

import feedparser
import structlog
import trio
from pydantic import BaseModel, field_validator

from yuqingd import hookimpl
from yuqingd.model import Item
from yuqingd.schema_types import STRICT, NonEmptyStr, PositiveDuration
from yuqingd.sources import SourceContext, SourceKind, SourceSpec

__version__ = "0.1.0"
log = structlog.get_logger("yuqingd.rss")


class RssOptions(BaseModel):
    model_config = STRICT
    url: NonEmptyStr
    interval: PositiveDuration = 300.0
    timeout: PositiveDuration = 30.0  # the whole fetch, on top of httpx's per-phase timeouts

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url 应以 http:// 或 https:// 开头: {value!r}")
        return value


class FeedError(Exception):
    pass


class RssSource:
    def __init__(self, spec: SourceSpec):
        self.options: RssOptions = spec.options

    async def run(self, ctx: SourceContext) -> None:
        validators = json.loads(ctx.cursor) if ctx.cursor else {}
        while True:
            validators = await self.poll(ctx, validators)
            await ctx.sleep(self.options.interval)

    async def poll(self, ctx: SourceContext, validators: dict) -> dict:
        """Fetch once and emit every entry; returns the new ETag/Last-Modified validators."""
        headers = {}
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        with trio.fail_after(self.options.timeout):
            response = await ctx.http.get(self.options.url, headers=headers)
        if response.status_code == 304:
            log.debug("rss.not_modified", url=self.options.url)
            return validators
        if response.status_code != 200:
            raise FeedError(f"HTTP {response.status_code} from {self.options.url}")
        feed = feedparser.parse(
            response.content, response_headers={k.lower(): v for k, v in response.headers.items()}
        )
        if not feed.entries and (feed.bozo or not feed.get("version")):
            # An HTML page is bozo; an empty body or well-formed XHTML is not, but has no version.
            why = feed.get("bozo_exception") or "no RSS or Atom document in the response"
            raise FeedError(f"not a feed: {why}")
        new_validators = {
            k: v
            for k, v in (
                ("etag", response.headers.get("etag")),
                ("modified", response.headers.get("last-modified")),
            )
            if v
        }
        log.info("rss.fetched", url=self.options.url, entries=len(feed.entries))
        items = _in_time_order([it for entry in feed.entries if (it := _item(ctx.name, entry))])
        for n, item in enumerate(items, 1):
            # The new validators go with the last item only: committed earlier, a restart in
            # mid-feed would get a 304 and never see the rest.
            await ctx.emit(item, cursor=json.dumps(new_validators) if n == len(items) else None)
        return new_validators


def _in_time_order(items: list[Item]) -> list[Item]:
    """Oldest first: by date when every item has one, else the reverse of document order."""
    items = items[::-1]  # most feeds list newest first
    if all(item.published_at is not None for item in items):
        items.sort(key=lambda item: item.published_at or 0.0)  # stable: ties keep feed order
    return items


def _item(source: str, entry) -> Item | None:
    link = entry.get("link", "") or ""
    guid = entry.get("id") or link
    if not guid:
        return None
    text = entry.get("summary", "") or ""
    if entry.get("content"):
        text = entry["content"][0].get("value", text) or text
    published = entry.get("published_parsed") or entry.get("updated_parsed")
    return Item(
        source=source,
        id=str(guid),
        title=str(entry.get("title", "") or ""),
        text=str(text),
        url=str(link),
        author=str(entry.get("author", "") or ""),
        published_at=float(calendar.timegm(published)) if published else None,
    )


@hookimpl
def yuqingd_source_kinds() -> list[SourceKind]:
    return [SourceKind("rss", RssOptions, RssSource, "polls an RSS or Atom feed")]
