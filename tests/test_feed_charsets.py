"""Feeds that lie about their charset come out right, served by a real HTTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import structlog
import trio

from yuqingd.model import Item
from yuqingd.sources import SourceContext
from yuqingd.testing import Harness, running_daemon
from yuqingd.testing_http import LoopbackServer
from yuqingd.text_decoding import UndecodableBody, decode_body
from yuqingd.time.clock import Clock

from .test_rss_source import SOURCE, make_source

TITLE = "六处学校老师体罚学生，家长聚集校门口要求说法"
TITLE_BIG5 = "六處學校老師體罰學生，家長聚集校門口要求說法"
TEXT = "耒阳市教育局回应称正在调查，将依法依规处理。"


def feed(title: str, *, declaration: str | None, guid: str = "t1") -> str:
    head = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    return (head + '<rss version="2.0"><channel><title>某市论坛</title>'
            "<link>https://bbs.example/</link><description>本地</description>"
            f"<item><title>{title}</title><guid>{guid}</guid>"
            f"<description>{TEXT}</description></item></channel></rss>")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0), trust_env=False) as client:
        yield client


class Collected:
    def __init__(self) -> None:
        self.items: list[Item] = []
        self.dead: list[tuple[str, str]] = []

    def ctx(self, http: httpx.AsyncClient) -> SourceContext:
        async def emit(item: Item, cursor: str | None) -> None:
            self.items.append(item)

        return SourceContext(SOURCE, cursor=None, emit=emit, http=http, clock=Clock(),
                             dead_letter=lambda where, reason, record: self.dead.append(
                                 (where, reason)))


async def poll_once(server: LoopbackServer, http: httpx.AsyncClient, body: bytes,
                    content_type: str) -> Collected:
    server.route("GET", "/feed.xml", content=body, headers={"content-type": content_type})
    got = Collected()
    await make_source(server.url("/feed.xml")).poll(got.ctx(http), {})
    return got


@pytest.mark.parametrize(("case", "body", "content_type"), [
    ("header says UTF-8, declaration says GBK",
     feed(TITLE, declaration="gbk").encode("gbk"), "application/rss+xml; charset=utf-8"),
    ("declaration says UTF-8, header says nothing",
     feed(TITLE, declaration="utf-8").encode("gbk"), "application/rss+xml"),
    ("header and declaration both say UTF-8",
     feed(TITLE, declaration="utf-8").encode("gbk"), "text/xml; charset=UTF-8"),
    ("no declaration anywhere",
     feed(TITLE, declaration=None).encode("gbk"), "application/xml"),
    ("GB2312 declared, GB18030 characters used",
     feed(TITLE + "𠀀", declaration="gb2312").encode("gb18030"), "text/xml"),
])
async def test_rss_gbk_feed_with_lying_charset_is_stored_right(
        loopback_server, http, case, body, content_type):
    """A GBK feed whose header or declaration lies, or is missing, is stored as real Chinese."""
    got = await poll_once(loopback_server, http, body, content_type)
    assert [item.title for item in got.items] == [feed_title(body)], case
    assert got.items[0].text == TEXT
    assert "六处学校" in got.items[0].title
    assert not got.dead


def feed_title(body: bytes) -> str:
    return TITLE + "𠀀" if "𠀀".encode("gb18030") in body else TITLE


async def test_rss_big5_feed_declared_utf8_is_stored_right(loopback_server, http):
    """A Big5 feed labelled UTF-8 is detected as Big5, not turned into gb18030 mojibake."""
    text = feed(TITLE_BIG5, declaration="utf-8").replace(TEXT, "耒陽市教育局回應稱正在調查")
    body = text.replace("某市论坛", "某市論壇").encode("big5")
    got = await poll_once(loopback_server, http, body, "application/rss+xml; charset=utf-8")
    assert [item.title for item in got.items] == [TITLE_BIG5]
    assert got.items[0].text == "耒陽市教育局回應稱正在調查"


async def test_rss_undecodable_feed_is_set_aside_and_the_source_goes_on(loopback_server, http):
    """Bytes no charset decodes are not stored: an error names source and URL, the next poll
    works as usual."""
    bad = feed("标题", declaration="utf-8").encode("utf-8").replace("标题".encode(),
                                                                   b"\xff\x80\xfe\x81\xff")
    loopback_server.route("GET", "/feed.xml", content=bad,
                          headers={"content-type": "application/rss+xml; charset=utf-8"})
    loopback_server.route("GET", "/feed.xml", content=feed(TITLE, declaration="gbk").encode("gbk"),
                          headers={"content-type": "application/rss+xml"})
    source, got = make_source(loopback_server.url("/feed.xml")), Collected()
    ctx = got.ctx(http)
    with structlog.testing.capture_logs() as logs:
        validators = await source.poll(ctx, {})
    assert got.items == []
    url = loopback_server.url("/feed.xml")
    assert got.dead and got.dead[0][0] == url and url in got.dead[0][1]
    assert "无法" in got.dead[0][1]
    errors = [e for e in logs if e["log_level"] == "error"]
    assert errors and errors[0]["source"] == SOURCE and errors[0]["where"] == url
    await source.poll(ctx, validators)
    assert [item.title for item in got.items] == [TITLE]


@pytest.mark.parametrize("title", ["体罚", "六处学校", "老师打人", "家长投诉老师", "校园欺凌事件"])
def test_decode_short_gbk_title_is_not_taken_for_big5_or_korean(title: str) -> None:
    """A feed with one short GBK title (bytes Big5 and EUC-KR also read) comes out as GBK."""
    body = feed(title, declaration="utf-8").replace(TEXT, "").encode("gbk")
    assert title in decode_body(body, "application/rss+xml; charset=utf-8").text


@pytest.mark.parametrize("title", ["體罰", "六處學校", "老師打人", "家長投訴老師", "校園霸凌事件"])
def test_decode_short_big5_title_is_not_taken_for_gbk(title: str) -> None:
    """The same short titles in Big5 come out as Big5 (GB's reading of them is rare characters)."""
    body = feed(title, declaration=None).replace(TEXT, "").replace("某市论坛", "").encode("big5")
    assert title in decode_body(body).text


@pytest.mark.parametrize("title", ["体罚", "六处学校", "通报", "家长投诉老师"])
def test_decode_utf8_page_declaring_gbk_is_utf8(title: str) -> None:
    """A page moved to UTF-8 that kept <meta charset="gbk"> reads as UTF-8: GB18030 would
    decode these bytes "strictly" into mojibake."""
    page = f'<html><head><meta charset="gbk"><title>{title}</title></head></html>'
    decoded = decode_body(page.encode(), "text/html")
    assert (decoded.text, decoded.charset) == (page, "utf-8")


def test_decode_body_order_of_trust() -> None:
    """Declared charset when it decodes strictly, else UTF-8, else detection, else gb18030;
    bytes nothing decodes raise rather than becoming mojibake."""
    assert decode_body("六处".encode("gbk"), "text/html; charset=gbk").how == "declared"
    utf8 = decode_body("六处学校老师".encode(), "text/html; charset=big5")
    assert (utf8.text, utf8.how) == ("六处学校老师", "utf-8")
    html = f'<html><head><meta charset="gbk"><title>{TITLE}</title></head></html>'
    decoded = decode_body(html.encode("gbk"), "text/html; charset=utf-8")
    assert (decoded.text, decoded.how) == (html, "declared")
    assert decode_body("café".encode("latin-1"), "text/plain; charset=iso-8859-1").text == "café"
    with pytest.raises(UndecodableBody):
        decode_body(b"\xff\x80\xfe\x81\xff" * 4, "text/html; charset=utf-8")


async def test_lying_gbk_feed_opens_an_incident_for_the_watched_name(
        make_config, http_mock, autojump_clock):
    """Decoded right, a GBK feed labelled UTF-8 matches the watched school and alerts."""
    items = "".join(f"<item><title>{TITLE} {n}</title><guid>g{n}</guid></item>" for n in range(3))
    body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>论坛</title>'
            f"<link>https://n.example/</link><description>d</description>{items}</channel></rss>")
    http_mock.route("GET", "https://n.example/feed.xml", content=body.encode("gbk"),
                    headers={"content-type": "application/rss+xml; charset=utf-8"})
    harness = Harness()
    config = make_config(sources=[{"name": "news", "kind": "rss",
                                   "url": "https://n.example/feed.xml"}])
    async with running_daemon(config, harness, http=http_mock.client):
        await trio.sleep(1)
    assert harness.kinds() == [("incident.opened", 1)]
    assert "六处学校" in harness.sent[0].text

