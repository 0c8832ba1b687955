"""HTML page source: forum thread lists, news lists, search result pages, read by CSS selectors.

One selector picks the item rows; within each row, others pick the title, link, time, author,
summary and counts. Links are resolved against the page (or its ``<base href>``) and are the
item's id, so the store drops rows seen before. The page is decoded by
:mod:`yuqingd.text_decoding` (selectolax ignores ``<meta charset>`` given bytes), times by
:mod:`yuqingd.time.chinese_times`; ETag/Last-Modified travel in the cursor as in the rss source.
"""

from __future__ import annotations

import json

import httpx
import structlog
import trio
from pydantic import BaseModel, Field, field_validator
from selectolax.lexbor import LexborHTMLParser, SelectolaxError

from yuqingd import hookimpl
from yuqingd.http_body import FetchError, read_capped
from yuqingd.model import Item
from yuqingd.schema_types import STRICT, NonEmptyStr, PositiveDuration
from yuqingd.sources import SourceContext, SourceKind, SourceSpec
from yuqingd.text_decoding import UndecodableBody, decode_body

from .counts import parse_count
from .rows import Row, next_page, read_rows

__version__ = "0.1.0"
log = structlog.get_logger("yuqingd.html")

_SELECTORS = ("items", "title", "link", "time", "author", "summary", "comments", "reposts",
              "next_page")


class HtmlOptions(BaseModel):
    model_config = STRICT
    url: NonEmptyStr
    items: NonEmptyStr  # one match per item row
    title: NonEmptyStr  # within the row
    link: str | None = None  # default: the title if it is a link, else its first <a href>
    time: str | None = None
    # Read the time from this attribute first (Discuz's <span title="2026-11-28">3 天前</span>),
    # then from the text; without it, the text first, then a `datetime` attribute.
    time_attribute: str | None = None
    author: str | None = None
    summary: str | None = None
    comments: str | None = None
    reposts: str | None = None
    # Pagination: the link to the next page ("a.nxt" on Discuz!, "下一页") and how many pages
    # in all one poll reads. Only the first page is fetched conditionally.
    next_page: str | None = None
    pages: int = Field(default=1, ge=1, le=20)
    interval: PositiveDuration = 300.0
    timeout: PositiveDuration = 30.0  # the whole fetch, on top of httpx's per-phase timeouts
    max_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url 应以 http:// 或 https:// 开头: {value!r}")
        return value

    @field_validator(*_SELECTORS)
    @classmethod
    def _css(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            LexborHTMLParser("<p></p>").css(value)
        except SelectolaxError:
            raise ValueError(f"不是有效的 CSS 选择器 (not a CSS selector): {value!r}") from None
        return value


class HtmlSource:
    def __init__(self, spec: SourceSpec):
        self.options: HtmlOptions = spec.options

    async def run(self, ctx: SourceContext) -> None:
        validators = json.loads(ctx.cursor) if ctx.cursor else {}
        while True:
            validators = await self.poll(ctx, validators)
            await ctx.sleep(self.options.interval)

    async def poll(self, ctx: SourceContext, validators: dict) -> dict:
        """Fetch the page (and up to ``pages`` - 1 next pages) once and emit the rows; returns
        the first page's new ETag/Last-Modified."""
        first = await self._fetch(ctx, self.options.url, validators)
        if first is None:  # 304: the first page is unchanged, so are the rest as far as we know
            return validators
        headers, body = first
        new_validators = {k: v for k, v in (("etag", headers.get("etag")),
                                            ("modified", headers.get("last-modified"))) if v}
        # Pages print times to the minute at best: "半小时前" is taken from the whole second.
        now = ctx.clock.now().replace(microsecond=0)
        url, visited, rows = self.options.url, {self.options.url}, []
        seen: set[str] = set()
        for number in range(1, self.options.pages + 1):
            if number > 1:
                try:
                    fetched = await self._fetch(ctx, url, {})
                except (FetchError, httpx.HTTPError, trio.TooSlowError) as exc:
                    # The first page's rows still count; the next poll tries the rest again.
                    log.warning("html.page_failed", url=url, page=number,
                                error=f"{type(exc).__name__}: {exc}")
                    break
                if fetched is None:
                    break
                headers, body = fetched
            try:
                page = decode_body(body, headers.get("content-type"))
            except UndecodableBody as exc:
                ctx.reject(url, f"{exc}: {url}", body[:200])  # nothing garbled is stored
                if number == 1:
                    return validators
                break
            tree = LexborHTMLParser(page.text)
            found = read_rows(tree, self.options, url, now)
            if number == 1 and not found:
                raise FetchError(f"选择器 items={self.options.items!r} 在网页中没有匹配到条目"
                                 f"（网页改版？）: {url}")
            log.info("html.fetched", url=url, page=number, rows=len(found), charset=page.charset)
            rows += [row for row in found if row.link not in seen]  # rows shift between pages
            seen.update(row.link for row in found)
            following = next_page(tree, self.options.next_page, url)
            if not found or following is None or following in visited:
                break
            visited.add(following)
            url = following
        untimed = [row.time_text for row in rows if row.time_text and row.published is None]
        if untimed:
            # The pipeline then takes the fetch time; say so, the time selector may be wrong.
            log.warning("html.time_unparsed", url=self.options.url, count=len(untimed),
                        example=untimed[0])
        items = _in_time_order([_item(ctx.name, row) for row in rows])
        for n, item in enumerate(items, 1):
            # The validators go with the last item only (see the rss source).
            await ctx.emit(item, cursor=json.dumps(new_validators) if n == len(items) else None)
        return new_validators

    async def _fetch(self, ctx: SourceContext, url: str,
                     validators: dict) -> tuple[httpx.Headers, bytes] | None:
        """The response's headers and capped body, or None for a 304."""
        headers = {"Accept-Encoding": "gzip, deflate"}  # the encodings read_capped inflates
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("modified"):
            headers["If-Modified-Since"] = validators["modified"]
        with trio.fail_after(self.options.timeout):
            async with ctx.http.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return None
                if response.status_code != 200:
                    raise FetchError(f"网页返回 HTTP {response.status_code}: {url}")
                return response.headers, await read_capped(response, self.options.max_bytes,
                                                           url)


def _item(source: str, row: Row) -> Item:
    return Item(source=source, id=row.link, title=row.title, text=row.summary, url=row.link,
                author=row.author,
                published_at=row.published.timestamp() if row.published else None,
                comments=parse_count(row.comments), reposts=parse_count(row.reposts))


def _in_time_order(items: list[Item]) -> list[Item]:
    """Oldest first: by time when every row has one, else the reverse of page order."""
    items = items[::-1]  # lists show the newest first
    if all(item.published_at is not None for item in items):
        items.sort(key=lambda item: item.published_at or 0.0)
    return items


@hookimpl
def yuqingd_source_kinds() -> list[SourceKind]:
    return [SourceKind("html", HtmlOptions, HtmlSource,
                       "reads items from a web page by CSS selectors (forums, news lists)")]


__all__ = ["HtmlOptions", "HtmlSource"]
