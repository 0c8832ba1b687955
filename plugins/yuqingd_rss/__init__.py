"""RSS/Atom source: polls a feed over HTTP(S) with conditional GET.

Each entry's id is its guid (``<guid>``/``<id>``), else its link. ETag and Last-Modified travel in
the cursor, so an unchanged feed costs a 304. Duplicates across polls are dropped by the store.
"""

from __future__ import annotations

import calendar
import json
import re
import sys

import feedparser
import structlog
import trio
from pydantic import BaseModel, Field, field_validator

from yuqingd import hookimpl
from yuqingd.http_body import FetchError, read_capped
from yuqingd.model import Item
from yuqingd.schema_types import STRICT, NonEmptyStr, PositiveDuration
from yuqingd.sources import SourceContext, SourceKind, SourceSpec
from yuqingd.text_decoding import UndecodableBody, decode_body

__version__ = "0.1.0"
log = structlog.get_logger("yuqingd.rss")


class RssOptions(BaseModel):
    model_config = STRICT
    url: NonEmptyStr
    interval: PositiveDuration = 300.0
    timeout: PositiveDuration = 30.0  # the whole fetch, on top of httpx's per-phase timeouts
    # A response (once decompressed) beyond this is refused: bounds memory and parsing time.
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url 应以 http:// 或 https:// 开头: {value!r}")
        return value


class FeedError(Exception):
    pass


# Feeds are tens of KiB; parsing takes the event loop for about that long, so beyond this the
# parse goes to a worker thread (tests' feeds stay below it and on the virtual clock).
INLINE_PARSE_BYTES = 256 * 1024


async def _parse_apart(body: bytes, headers: dict[str, str]) -> feedparser.FeedParserDict:
    done = await trio.run_process(
        [sys.executable, "-m", "yuqingd_rss.parse", json.dumps(headers)], stdin=body,
        capture_stdout=True, capture_stderr=True, check=False)
    if done.returncode != 0:
        raise FeedError(f"解析订阅失败: {done.stderr.decode('utf-8', 'replace')[-300:]}")
    return feedparser.FeedParserDict(json.loads(done.stdout))


_XML_ENCODING = re.compile(r"""^(\s*<\?xml[^>]*?encoding\s*=\s*)["'][\w.:-]+["']""",
                           re.IGNORECASE)


def as_utf8_feed(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """The feed re-encoded as UTF-8, its header and XML declaration saying so, once decoded by
    :func:`decode_body` (feedparser would believe a lying declaration and store mojibake)."""
    decoded = decode_body(body, headers.get("content-type"))
    if decoded.how in ("detected", "gb18030"):
        log.info("rss.charset", declared=headers.get("content-type", ""), used=decoded.charset,
                 how=decoded.how)
    text = _XML_ENCODING.sub(r'\1"utf-8"', decoded.text, count=1)
    media_type = headers.get("content-type", "application/xml").split(";")[0].strip()
    return text.encode("utf-8"), {**headers, "content-type": f"{media_type}; charset=utf-8"}


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
        headers = {"Accept-Encoding": "gzip, deflate"}  # the encodings _read_capped inflates
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        with trio.fail_after(self.options.timeout):
            async with ctx.http.stream("GET", self.options.url, headers=headers) as response:
                if response.status_code == 304:
                    log.debug("rss.not_modified", url=self.options.url)
                    return validators
                if response.status_code != 200:
                    raise FeedError(f"HTTP {response.status_code} from {self.options.url}")
                try:
                    body = await read_capped(response, self.options.max_bytes, self.options.url)
                except FetchError as exc:
                    raise FeedError(str(exc)) from None
        response_headers = {k.lower(): v for k, v in response.headers.items()}
        try:
            body, response_headers = as_utf8_feed(body, response_headers)
        except UndecodableBody as exc:
            # Nothing garbled is stored: the poll is set aside with its reason, and the feed is
            # fetched again (same validators) at the next interval.
            ctx.reject(self.options.url, f"{exc}: {self.options.url}", body[:200])
            return validators
        if len(body) > INLINE_PARSE_BYTES:
            # A big feed is parsed in a child process, so the loop (control socket, watchdog,
            # deadlines) keeps answering: a thread would not do, the parse holds the GIL.
            with trio.fail_after(self.options.timeout):
                feed = await _parse_apart(body, response_headers)
        else:
            feed = feedparser.parse(body, response_headers=response_headers)
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
        found = []
        for number, entry in enumerate(feed.entries, start=1):
            try:
                item = _item(ctx.name, entry)
            except Exception as exc:  # one bad entry is a dead letter, not a wedged feed
                ctx.reject(f"{self.options.url}#{number}", f"{type(exc).__name__}: {exc}",
                           str(entry.get("id") or entry.get("link") or "")[:200])
                continue
            if item is not None:
                found.append(item)
        items = _in_time_order(found)
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
