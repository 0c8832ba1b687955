"""The built-in ``rss`` source, polling a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pydantic
import pytest
import trio
from yuqingd_rss import FeedError, RssOptions, RssSource

from yuqingd.model import Item
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.sources import SourceContext, SourceSpec
from yuqingd.time.clock import Clock

SOURCE = "新闻源"
ETAG = '"v1"'
LAST_MODIFIED = "Sun, 10 May 2026 02:00:00 GMT"


# -- a feed server on loopback -----------------------------------------------------------------


@dataclass
class FeedServer:
    """Serves one configurable body at every path and records each request's headers.

    With ``etag``/``last_modified`` set it answers a matching conditional GET with 304.
    """

    url: str = ""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    hang: bool = False  # accept the request, then never answer
    requests: list[dict[str, str]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        self.requests.append(dict(handler.headers.items()))
        if self.hang:
            self.release.wait(timeout=30)
            return
        not_modified = (self.etag and handler.headers.get("If-None-Match") == self.etag) or (
            self.last_modified and handler.headers.get("If-Modified-Since") == self.last_modified
        )
        handler.send_response(304 if not_modified else self.status)
        if self.etag:
            handler.send_header("ETag", self.etag)
        if self.last_modified:
            handler.send_header("Last-Modified", self.last_modified)
        if not_modified:
            handler.end_headers()
            return
        handler.send_header("Content-Type", self.content_type)
        handler.send_header("Content-Length", str(len(self.body)))
        handler.end_headers()
        handler.wfile.write(self.body)


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    server_state = FeedServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server_state.serve(self)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}/feed.xml"
    try:
        yield server_state
    finally:
        server_state.release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # Generous httpx timeouts, so only the source's own `timeout` option can cut a fetch short;
    # no proxy from the environment may come between the client and 127.0.0.1.
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0), trust_env=False) as client:
        yield client


# -- helpers -----------------------------------------------------------------------------------


@dataclass
class Emitted:
    """What the source handed to the core: items and the cursor committed with each."""

    items: list[Item] = field(default_factory=list)
    cursors: list[str | None] = field(default_factory=list)

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    def committed_cursor(self, before: str | None = None) -> str | None:
        """The cursor the store would hold now: the last non-None one, else ``before``."""
        return next((c for c in reversed(self.cursors) if c is not None), before)


def make_source(url: str, **options: object) -> RssSource:
    spec = SourceSpec(SOURCE, "rss", RssOptions(url=url, **options), Path("."))
    return RssSource(spec)


def make_ctx(
    http: httpx.AsyncClient, emitted: Emitted, *, cursor: str | None = None, fail_after: int = 0,
    heartbeat: Callable[[], object] | None = None,
) -> SourceContext:
    """A context whose emit collects; with ``fail_after=n`` the process "dies" on emit n+1."""

    async def emit(item: Item, cursor: str | None) -> None:
        if fail_after and len(emitted.items) == fail_after:
            raise RuntimeError("killed")
        emitted.items.append(item)
        emitted.cursors.append(cursor)

    return SourceContext(
        SOURCE, cursor=cursor, emit=emit, heartbeat=heartbeat, http=http, clock=Clock()
    )


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0"><channel><title>某市新闻</title><link>https://news.example/</link>'
        "<description>本地要闻</description>" + "".join(items) + "</channel></rss>"
    ).encode()


def rss_item(
    title: str,
    *,
    guid: str | None = None,
    link: str | None = None,
    date: str | None = None,
    description: str = "",
    author: str | None = None,
) -> str:
    parts = [f"<title>{title}</title>"]
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{guid}</guid>')
    if link is not None:
        parts.append(f"<link>{link}</link>")
    if date is not None:
        parts.append(f"<pubDate>{date}</pubDate>")
    if description:
        parts.append(f"<description>{description}</description>")
    if author is not None:
        parts.append(f"<author>{author}</author>")
    return "<item>" + "".join(parts) + "</item>"


THREE_NEWEST_FIRST = rss(
    *(
        rss_item(
            title,
            guid=f"n{n}",
            link=f"https://news.example/{n}",
            date=f"Sun, 10 May 2026 {8 + n}:00:00 +0800",
        )
        for n, title in ((3, "第三条"), (2, "第二条"), (1, "第一条"))
    )
)


# -- RSS and Atom ------------------------------------------------------------------------------


async def test_poll_rss_feed_yields_chinese_items_with_guid_link_text_and_time(feed_server, http):
    """Each RSS 2.0 item becomes an Item with its guid, link, Chinese title, text and date."""
    feed_server.body = rss(
        rss_item(
            "某区自来水管爆裂 居民停水",
            guid="news-1002",
            link="https://news.example/a/1002",
            date="Sun, 10 May 2026 09:30:00 +0800",
            description="今日上午，某区一处供水管道爆裂，周边三个小区停水。",
            author="reporter@news.example (李记者)",
        ),
        rss_item(
            "市政府召开防汛工作会议",
            guid="news-1001",
            link="https://news.example/a/1001",
            date="Sat, 09 May 2026 18:00:00 +0800",
            description="会议部署今年防汛重点工作。",
        ),
    )
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.items == [
        Item(
            source=SOURCE,
            id="news-1001",
            title="市政府召开防汛工作会议",
            text="会议部署今年防汛重点工作。",
            url="https://news.example/a/1001",
            published_at=epoch("2026-05-09T18:00:00+08:00"),
        ),
        Item(
            source=SOURCE,
            id="news-1002",
            title="某区自来水管爆裂 居民停水",
            text="今日上午，某区一处供水管道爆裂，周边三个小区停水。",
            url="https://news.example/a/1002",
            author="reporter@news.example (李记者)",
            published_at=epoch("2026-05-10T09:30:00+08:00"),
        ),
    ]


async def test_poll_emits_newest_first_feed_oldest_first(feed_server, http):
    """A feed listing newest first is emitted oldest first."""
    feed_server.body = THREE_NEWEST_FIRST
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.ids == ["n1", "n2", "n3"]


async def test_poll_emits_oldest_first_feed_oldest_first(feed_server, http):
    """A feed listing oldest first is still emitted oldest first, going by the item dates."""
    feed_server.body = rss(
        rss_item("第一条", guid="o1", date="Sun, 10 May 2026 09:00:00 +0800"),
        rss_item("第二条", guid="o2", date="Sun, 10 May 2026 10:00:00 +0800"),
        rss_item("第三条", guid="o3", date="Sun, 10 May 2026 11:00:00 +0800"),
    )
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.ids == ["o1", "o2", "o3"]


async def test_poll_undated_feed_is_emitted_in_reverse_document_order(feed_server, http):
    """Without dates, items are emitted bottom of the feed first (feeds list newest first)."""
    feed_server.body = rss(rss_item("新", guid="u2"), rss_item("旧", guid="u1"))
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.ids == ["u1", "u2"]
    assert [item.published_at for item in emitted.items] == [None, None]


async def test_poll_gb2312_feed_decodes_chinese_titles(feed_server, http):
    """A feed encoded in GB2312 (common on Chinese sites) yields correctly decoded titles."""
    feed_server.content_type = "text/xml"  # no charset: the XML declaration has to be honoured
    feed_server.body = (
        '<?xml version="1.0" encoding="gb2312"?>\n'
        '<rss version="2.0"><channel><title>县政府网站</title>'
        "<item><title>关于开展安全生产大检查的通知</title><guid>gov-1</guid>"
        "<description>各乡镇、各部门：</description></item>"
        "</channel></rss>"
    ).encode("gb2312")
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert [(i.title, i.text) for i in emitted.items] == [
        ("关于开展安全生产大检查的通知", "各乡镇、各部门：")
    ]


async def test_poll_atom_feed_yields_entries(feed_server, http):
    """An Atom feed yields one Item per entry: id, alternate link, content, author and date."""
    feed_server.content_type = "application/atom+xml"
    feed_server.body = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>某论坛 热帖</title>
  <id>tag:bbs.example,2026:hot</id>
  <updated>2026-05-10T10:00:00+08:00</updated>
  <entry>
    <title>小区物业乱收费，业主维权无门</title>
    <id>tag:bbs.example,2026:t/88</id>
    <link rel="alternate" href="https://bbs.example/t/88"/>
    <author><name>业主王女士</name></author>
    <published>2026-05-10T08:15:00+08:00</published>
    <updated>2026-05-10T09:00:00+08:00</updated>
    <summary>摘要</summary>
    <content type="text">物业今年起每月多收二十元“管理费”。</content>
  </entry>
  <entry>
    <title>菜市场周末改造完工</title>
    <id>tag:bbs.example,2026:t/87</id>
    <link href="https://bbs.example/t/87"/>
    <updated>2026-05-09T20:00:00+08:00</updated>
    <summary>改造后摊位更整齐。</summary>
  </entry>
</feed>""".encode()
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.items == [
        Item(
            source=SOURCE,
            id="tag:bbs.example,2026:t/87",
            title="菜市场周末改造完工",
            text="改造后摊位更整齐。",
            url="https://bbs.example/t/87",
            published_at=epoch("2026-05-09T20:00:00+08:00"),  # no <published>: <updated>
        ),
        Item(
            source=SOURCE,
            id="tag:bbs.example,2026:t/88",
            title="小区物业乱收费，业主维权无门",
            text="物业今年起每月多收二十元“管理费”。",  # <content> wins over <summary>
            url="https://bbs.example/t/88",
            author="业主王女士",
            published_at=epoch("2026-05-10T08:15:00+08:00"),
        ),
    ]


async def test_poll_entry_without_guid_uses_link_as_id(feed_server, http):
    """An item with no guid is identified by its link."""
    feed_server.body = rss(rss_item("无编号的新闻", link="https://news.example/a/77"))
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert [(i.id, i.url) for i in emitted.items] == [
        ("https://news.example/a/77", "https://news.example/a/77")
    ]


async def test_poll_entry_without_guid_or_link_is_skipped(feed_server, http):
    """An item with neither guid nor link cannot be identified and is left out."""
    feed_server.body = rss(rss_item("无法识别的条目"), rss_item("正常条目", guid="ok-1"))
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.ids == ["ok-1"]


# -- conditional GET and the cursor ------------------------------------------------------------


async def test_poll_sends_validators_back_and_304_emits_nothing(feed_server, http):
    """ETag and Last-Modified come back as If-None-Match/If-Modified-Since; a 304 emits nothing."""
    feed_server.body = THREE_NEWEST_FIRST
    feed_server.etag, feed_server.last_modified = ETAG, LAST_MODIFIED
    source = make_source(feed_server.url)
    first, second = Emitted(), Emitted()

    validators = await source.poll(make_ctx(http, first), {})
    again = await source.poll(make_ctx(http, second), validators)

    assert "If-None-Match" not in feed_server.requests[0]
    assert "If-Modified-Since" not in feed_server.requests[0]
    assert feed_server.requests[1]["If-None-Match"] == ETAG
    assert feed_server.requests[1]["If-Modified-Since"] == LAST_MODIFIED
    assert first.ids == ["n1", "n2", "n3"]
    assert second.items == []
    assert again == validators == {"etag": ETAG, "modified": LAST_MODIFIED}


async def test_poll_changed_feed_is_fetched_in_full_again(feed_server, http):
    """When the server's ETag changes, the next poll gets a 200 and emits the feed again."""
    feed_server.body = THREE_NEWEST_FIRST
    feed_server.etag = ETAG
    source = make_source(feed_server.url)
    validators = await source.poll(make_ctx(http, Emitted()), {})
    feed_server.etag = '"v2"'
    feed_server.body = rss(rss_item("第四条", guid="n4"))
    emitted = Emitted()

    validators = await source.poll(make_ctx(http, emitted), validators)

    assert feed_server.requests[1]["If-None-Match"] == ETAG
    assert emitted.ids == ["n4"]
    assert validators == {"etag": '"v2"'}


async def test_poll_without_validators_sends_no_conditional_headers(feed_server, http):
    """A server that sends no ETag/Last-Modified gets plain GETs and the feed every time."""
    feed_server.body = THREE_NEWEST_FIRST
    source = make_source(feed_server.url)
    second = Emitted()

    validators = await source.poll(make_ctx(http, Emitted()), {})
    await source.poll(make_ctx(http, second), validators)

    assert validators == {}
    assert all(
        "If-None-Match" not in h and "If-Modified-Since" not in h for h in feed_server.requests
    )
    assert second.ids == ["n1", "n2", "n3"]


async def test_poll_commits_validators_with_the_newest_item_only(feed_server, http):
    """The cursor holding the new ETag/Last-Modified is committed with the last item emitted."""
    feed_server.body = THREE_NEWEST_FIRST
    feed_server.etag, feed_server.last_modified = ETAG, LAST_MODIFIED
    emitted = Emitted()

    await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.cursors[:-1] == [None, None]
    assert json.loads(emitted.cursors[-1]) == {"etag": ETAG, "modified": LAST_MODIFIED}


async def test_poll_interrupted_mid_feed_fetches_the_rest_after_restart(feed_server, http):
    """A process killed after storing one item of a feed still gets the other items on restart."""
    feed_server.body = THREE_NEWEST_FIRST
    feed_server.etag = ETAG
    source = make_source(feed_server.url)
    before_crash = Emitted()
    with pytest.raises(RuntimeError, match="killed"):
        await source.poll(make_ctx(http, before_crash, fail_after=1), {})
    committed = before_crash.committed_cursor()
    after_restart = Emitted()

    await source.poll(
        make_ctx(http, after_restart, cursor=committed),
        json.loads(committed) if committed else {},
    )

    assert before_crash.ids + after_restart.ids[1:] == ["n1", "n2", "n3"]


async def test_run_resumes_from_the_committed_cursor_with_a_conditional_get(feed_server, http):
    """After a restart, the first poll sends the stored ETag, so an unchanged feed costs a 304."""
    feed_server.body = THREE_NEWEST_FIRST
    feed_server.etag, feed_server.last_modified = ETAG, LAST_MODIFIED
    emitted = Emitted()
    cursor = json.dumps({"etag": ETAG, "modified": LAST_MODIFIED})
    with trio.CancelScope() as scope:
        # stop once the first poll is done: its heartbeat before the sleep cancels the run
        ctx = make_ctx(http, emitted, cursor=cursor, heartbeat=scope.cancel)
        await make_source(feed_server.url).run(ctx)

    assert len(feed_server.requests) == 1
    assert feed_server.requests[0]["If-None-Match"] == ETAG
    assert feed_server.requests[0]["If-Modified-Since"] == LAST_MODIFIED
    assert emitted.items == []


# -- failures ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [404, 500, 503])
async def test_poll_non_200_status_raises_feed_error(feed_server, http, status):
    """A feed URL answering with an error status fails the poll with FeedError naming it."""
    feed_server.status = status
    feed_server.body = THREE_NEWEST_FIRST
    emitted = Emitted()

    with pytest.raises(FeedError, match=f"HTTP {status}"):
        await make_source(feed_server.url).poll(make_ctx(http, emitted), {})
    assert emitted.items == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        pytest.param(
            "text/html; charset=utf-8",
            "<!doctype html><html><head><title>某市新闻网</title></head>"
            '<body><h1>首页</h1><a href="/a/1">新闻一</a></body></html>'.encode(),
            id="html-page",
        ),
        pytest.param(
            "application/xhtml+xml",
            b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml">'
            b"<head><title>Login</title></head><body><p>Please sign in</p></body></html>",
            id="xhtml-page",
        ),
        pytest.param("text/html", b"", id="empty-body"),
        pytest.param("application/json", b'{"error": "not found"}', id="json"),
    ],
)
async def test_poll_response_that_is_not_a_feed_raises_feed_error(
    feed_server, http, content_type, body
):
    """A 200 whose body is not an RSS/Atom feed (HTML page, empty, JSON) fails with FeedError."""
    feed_server.content_type, feed_server.body = content_type, body
    emitted = Emitted()

    with pytest.raises(FeedError, match="not a feed"):
        await make_source(feed_server.url).poll(make_ctx(http, emitted), {})
    assert emitted.items == []


async def test_poll_valid_feed_with_no_items_emits_nothing(feed_server, http):
    """A well-formed feed that has no items yet is not an error; it just emits nothing."""
    feed_server.body = rss()
    emitted = Emitted()

    validators = await make_source(feed_server.url).poll(make_ctx(http, emitted), {})

    assert emitted.items == []
    assert validators == {}


async def test_poll_unanswered_request_is_cut_off_by_timeout_option(feed_server, http):
    """A server that accepts but never answers is abandoned after the source's ``timeout``."""
    feed_server.hang = True
    emitted = Emitted()
    started = trio.current_time()

    # httpx itself would wait 20 s and raise ReadTimeout; the option must win.
    with pytest.raises(trio.TooSlowError):
        await make_source(feed_server.url, timeout="0.5s").poll(make_ctx(http, emitted), {})

    assert trio.current_time() - started >= 0.5
    assert len(feed_server.requests) == 1
    assert emitted.items == []


# -- options and registration ------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["news.example/rss.xml", "ftp://news.example/rss.xml", "/srv/feeds/rss.xml"]
)
def test_options_url_without_http_scheme_is_rejected_in_chinese(url):
    """A url not starting with http:// or https:// is refused with a Chinese explanation."""
    with pytest.raises(pydantic.ValidationError) as excinfo:
        RssOptions(url=url)

    (error,) = excinfo.value.errors()
    assert error["loc"] == ("url",)
    assert "url 应以 http:// 或 https:// 开头" in error["msg"]
    assert url in error["msg"]


def test_options_accept_durations_and_reject_unknown_keys():
    """interval/timeout take "15m"-style durations; a misspelt option is an error, not ignored."""
    options = RssOptions(url="https://news.example/rss.xml", interval="15m", timeout="10s")
    assert (options.interval, options.timeout) == (900.0, 10.0)
    assert RssOptions(url="http://news.example/rss.xml").interval == 300.0

    with pytest.raises(pydantic.ValidationError, match="intervall"):
        RssOptions(url="https://news.example/rss.xml", intervall="15m")
    with pytest.raises(pydantic.ValidationError, match="timeout"):
        RssOptions(url="https://news.example/rss.xml", timeout="0s")


def test_plugin_offers_the_rss_kind_through_entry_points():
    """The installed package registers the ``rss`` source kind like a third-party plugin."""
    kinds = Plugins(get_plugin_manager()).source_kinds()

    [(plugin_name, kind)] = kinds["rss"]
    assert plugin_name == "rss"
    assert kind.options is RssOptions
    assert kind.create is RssSource
