"""The built-in ``html`` source: a recorded Discuz! forum list served from 127.0.0.1."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pydantic
import pytest
import structlog
import yaml
from yuqingd_html import HtmlOptions, HtmlSource

from yuqingd.config import load_config
from yuqingd.http_body import FetchError
from yuqingd.located import ConfigError
from yuqingd.model import Item
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.sources import SourceContext, SourceSpec
from yuqingd.testing import Harness
from yuqingd.testing_http import LoopbackServer
from yuqingd.time.clock import Clock

from .conftest import REPO

FIXTURES = Path(__file__).parent / "fixtures" / "html"
DISCUZ_PAGE = (FIXTURES / "discuz-forumdisplay.gbk.html").read_bytes()
SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = dt.datetime(2026, 12, 4, 11, 6, 30, tzinfo=SHANGHAI)


def doc_example(name: str) -> dict:
    """The source ``name`` among the examples of docs/sources.md, as a user would copy it."""
    text = (REPO / "docs" / "sources.md").read_text(encoding="utf-8")
    blocks = [part.split("```", 1)[0] for part in text.split("```yaml\n")[1:]]
    entries = [entry for block in blocks for entry in yaml.safe_load(block)["sources"]]
    (entry,) = [entry for entry in entries if entry["name"] == name]
    return entry


def discuz_example() -> dict:
    return doc_example("耒阳家园教育版")


def example_options(name: str, url: str) -> dict:
    entry = doc_example(name)
    return {**{k: v for k, v in entry.items() if k not in ("name", "kind")}, "url": url}


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(20.0), trust_env=False) as client:
        yield client


class Run:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.items: list[Item] = []
        self.cursors: list[str | None] = []
        self.dead: list[tuple[str, str]] = []
        clock = Clock("Asia/Shanghai", start_epoch=NOW.timestamp())
        clock.start()

        async def emit(item: Item, cursor: str | None) -> None:
            self.items.append(item)
            self.cursors.append(cursor)

        self.ctx = SourceContext("耒阳家园", cursor=None, emit=emit, http=http, clock=clock,
                                 dead_letter=lambda w, r, rec: self.dead.append((w, r)))


def source(**options: object) -> HtmlSource:
    return HtmlSource(SourceSpec("耒阳家园", "html", HtmlOptions(**options), Path(".")))


def serve(server: LoopbackServer, path: str, body: bytes, content_type: str = "text/html",
          **headers: str) -> str:
    server.route("GET", path, content=body, headers={"content-type": content_type, **headers})
    return server.url(path)


async def test_html_discuz_example_reads_the_forum_list(loopback_server, http):
    """The shipped Discuz! example, against the recorded GBK page served with a header that says
    UTF-8, gives the four threads, oldest first, exact times, links made absolute by <base>."""
    url = serve(loopback_server, "/forum-2-1.html", DISCUZ_PAGE, "text/html; charset=utf-8",
                etag='"p1"')
    run = Run(http)
    # The recorded page's <base href> sends its next-page link off this machine: one page here
    # (pagination has its own tests below).
    options = {**example_options("耒阳家园教育版", url), "pages": 1}
    validators = await source(**options).poll(run.ctx, {})
    assert [r.url.path for r in loopback_server.requests] == ["/forum-2-1.html"]
    assert [(i.id, i.title, i.author, i.comments) for i in run.items] == [
        ("https://bbs.example/thread-23791-1-1.html", "实验小学课后服务收费标准有人知道吗",
         "小雨点", 0),
        ("https://bbs.example/thread-23850-1-1.html", "请问今年小升初划片政策什么时候公布？",
         "新手爸爸", 5),
        ("https://bbs.example/thread-23866-1-1.html",
         "城关中学食堂饭菜有异味，家长要求公开检测结果", "城关老李", 86),
        ("https://bbs.example/thread-23871-1-1.html", "六处学校老师体罚学生，孩子回家后耳朵红肿",
         "耒阳宝妈", 12000),
    ]
    assert [dt.datetime.fromtimestamp(i.published_at or 0, SHANGHAI) for i in run.items] == [
        dt.datetime(2026, 11, 28, 14, 30, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 2, 8, 0, tzinfo=SHANGHAI),
        dt.datetime(2026, 12, 3, 10, 21, tzinfo=SHANGHAI),
        NOW - dt.timedelta(minutes=30),
    ]
    assert all(i.url == i.id for i in run.items)
    assert validators == {"etag": '"p1"'} and run.cursors[-1] == '{"etag": "\\"p1\\""}'
    assert run.cursors[:-1] == [None] * 3  # committed with the last item only


async def test_html_government_list_example(loopback_server, http):
    """The government news list example: bracketed dates, ./ and ../ links, the empty separator
    row skipped."""
    page = (FIXTURES / "gov-news-list.html").read_bytes()
    url = serve(loopback_server, "/xxgk/tzgg/index.html", page)
    run = Run(http)
    await source(**example_options("教育局通知公告", url)).poll(run.ctx, {})
    base = loopback_server.url("")
    assert [(i.url, i.title, i.published_at) for i in run.items] == [
        (f"{base}zwgk/202611/t20261128_3176310.html",
         "2027年义务教育阶段招生入学工作方案（征求意见稿）", day(2026, 11, 28)),
        (f"{base}xxgk/tzgg/202612/t20261201_3179944.html",
         "关于开展2026年冬季校园安全大检查的通知", day(2026, 12, 1)),
        (f"{base}xxgk/tzgg/202612/t20261203_3181207.html",
         "耒阳市教育局关于六处学校有关情况的通报", day(2026, 12, 3)),
    ]


async def test_html_search_results_example(loopback_server, http):
    """The search result example: highlighted names stay whole, ads are skipped,
    protocol-relative links get the page's scheme, counts like 1.1万 are read."""
    page = (FIXTURES / "search-results.html").read_bytes()
    url = serve(loopback_server, "/s", page)
    run = Run(http)
    await source(**example_options("站内搜索-六处学校", url + "?wd=x&sort=time")).poll(run.ctx, {})
    assert [(i.url, i.title, i.author, i.comments) for i in run.items] == [
        ("http://m.example.cn/t/99120", "耒阳六处学校2027年招生简章", "耒阳教育", 11000),
        ("https://news.example/local/2026-12/03/c_1122.htm", "六处学校举行冬季运动会",
         "耒阳新闻网", 4),
        (loopback_server.url("a/20261204/88213.html"), "家长反映六处学校老师体罚学生",
         "耒阳热线", 326),
    ]
    assert run.items[2].text == "有家长在网上发帖称，孩子在六处学校被老师罚站两小时……"
    assert [i.published_at for i in run.items] == [
        day(2026, 11, 28), dt.datetime(2026, 12, 3, 16, 5, tzinfo=SHANGHAI).timestamp(),
        (NOW - dt.timedelta(hours=2)).timestamp()]


def day(year: int, month: int, date: int) -> float:
    return dt.datetime(year, month, date, tzinfo=SHANGHAI).timestamp()


def forum_page(number: int, threads: list[int], *, next_link: str | None) -> bytes:
    rows = "".join(f'<tbody id="normalthread_{t}"><tr><th><a class="xst" '
                   f'href="thread-{t}-1-1.html">主题{t}</a></th></tr></tbody>' for t in threads)
    pager = (f'<div class="pg"><a class="nxt" href="{next_link}">下一页</a></div>'
             if next_link else "")
    return f"<html><body><table>{rows}</table>{pager}</body></html>".encode("gbk")


async def test_html_follows_next_page_links_up_to_pages(loopback_server, http):
    """With next_page and pages: 2 a poll reads two pages, not the third; a thread that moved
    from page 1 to page 2 between the fetches is emitted once; all oldest first."""
    url = serve(loopback_server, "/forum-2-1.html",
                forum_page(1, [9, 8, 7], next_link="forum-2-2.html"))
    serve(loopback_server, "/forum-2-2.html", forum_page(2, [7, 6, 5], next_link="forum-2-3.html"))
    serve(loopback_server, "/forum-2-3.html", forum_page(3, [4, 3], next_link=None))
    run = Run(http)
    await source(url=url, items='tbody[id^="normalthread_"]', title="a.xst", next_page="a.nxt",
                 pages=2).poll(run.ctx, {})
    assert [i.title for i in run.items] == ["主题5", "主题6", "主题7", "主题8", "主题9"]
    assert [r.url.path for r in loopback_server.requests] == ["/forum-2-1.html",
                                                              "/forum-2-2.html"]


async def test_html_failing_later_page_keeps_the_first(loopback_server, http):
    """A next page answering 500 ends that poll's pagination; the first page's rows are
    emitted and the failure is logged with its URL. A link back to a page read is not followed."""
    url = serve(loopback_server, "/forum-2-1.html",
                forum_page(1, [9, 8], next_link="forum-2-2.html"))
    loopback_server.route("GET", "/forum-2-2.html", status=500, text="oops")
    run = Run(http)
    with structlog.testing.capture_logs() as logs:
        await source(url=url, items="tbody", title="a.xst", next_page="a.nxt",
                     pages=5).poll(run.ctx, {})
    assert [i.title for i in run.items] == ["主题8", "主题9"]
    (failed,) = [e for e in logs if e["event"] == "html.page_failed"]
    assert failed["url"] == loopback_server.url("forum-2-2.html") and "500" in failed["error"]
    loop = serve(loopback_server, "/self.html", forum_page(1, [1], next_link="self.html"))
    run = Run(http)
    await source(url=loop, items="tbody", title="a.xst", next_page="a.nxt",
                 pages=5).poll(run.ctx, {})
    assert [i.title for i in run.items] == ["主题1"]
    assert [r.url.path for r in loopback_server.requests].count("/self.html") == 1


async def test_html_unchanged_page_costs_a_304(loopback_server, http):
    """With the page's ETag in the cursor the source sends If-None-Match and emits nothing."""
    url = serve(loopback_server, "/list", b"", etag='"p1"')
    loopback_server.routes[0].responses[0] = lambda request: httpx.Response(304)
    run = Run(http)
    got = await source(url=url, items="li", title="a").poll(run.ctx, {"etag": '"p1"'})
    assert got == {"etag": '"p1"'} and run.items == []
    assert loopback_server.requests[0].headers["if-none-match"] == '"p1"'


async def test_html_relative_links_and_time_attribute(loopback_server, http):
    """Links resolve against the page URL; time_attribute reads <span title=…> before the text;
    an unknown time form leaves published_at empty and says so in the log."""
    page = """<html><head><meta charset="utf-8"></head><body><ul class="list">
      <li><a href="../news/2026/1201.html">区教育局通报六处学校事件</a>
          <span class="t" title="2026-12-01 09:30">3 天前</span><p>通报全文……</p></li>
      <li><a href="/news/x.html">秋季招生公告</a><span class="t">很久以前</span></li>
      <li><a href="javascript:;">广告</a></li>
    </ul></body></html>""".encode()
    url = serve(loopback_server, "/jyj/list/index.html", page)
    run = Run(http)
    with structlog.testing.capture_logs() as logs:
        await source(url=url, items="ul.list li", title="a", time=".t", time_attribute="title",
                     summary="p").poll(run.ctx, {})
    base = loopback_server.url("")
    assert [(i.url, i.text) for i in run.items] == [
        (f"{base}news/x.html", ""), (f"{base}jyj/news/2026/1201.html", "通报全文……")]
    assert run.items[1].published_at == dt.datetime(2026, 12, 1, 9, 30,
                                                    tzinfo=SHANGHAI).timestamp()
    assert run.items[0].published_at is None
    (warning,) = [e for e in logs if e["event"] == "html.time_unparsed"]
    assert warning["example"] == "很久以前" and warning["url"] == url


async def test_html_page_without_matching_rows_fails_naming_the_url(loopback_server, http):
    """A redesigned page (the row selector matches nothing) fails the poll, so health shows it."""
    url = serve(loopback_server, "/x", "<html><body><p>维护中</p></body></html>".encode())
    with pytest.raises(FetchError, match="没有匹配到条目") as info:
        await source(url=url, items="tbody.thread", title="a").poll(Run(http).ctx, {})
    assert url in str(info.value)


async def test_html_undecodable_page_is_set_aside(loopback_server, http):
    """A page no charset decodes is a dead letter naming the URL; nothing is stored."""
    url = serve(loopback_server, "/bad", b"<ul><li><a href='/a'>\xff\x80\xfe\x81\xff</a></li></ul>")
    run = Run(http)
    kept = await source(url=url, items="li", title="a").poll(run.ctx, {"etag": "e"})
    assert kept == {"etag": "e"}  # fetched again at the next interval
    assert run.items == [] and run.dead[0][0] == url


def test_html_options_reject_bad_selectors_and_urls() -> None:
    """A selector that does not parse, or a URL without a scheme, is refused in Chinese."""
    with pytest.raises(pydantic.ValidationError, match="不是有效的 CSS 选择器"):
        HtmlOptions(url="https://bbs.example/", items="tbody[[", title="a")
    with pytest.raises(pydantic.ValidationError, match="url 应以 http:// 或 https:// 开头"):
        HtmlOptions(url="bbs.example/forum", items="li", title="a")


def test_html_bad_selector_in_config_is_reported_at_its_line(make_config) -> None:
    """The docs' example loads as written; a broken selector is reported at its line."""
    config = load_config(make_config(sources=[discuz_example()]),
                         Plugins(get_plugin_manager(extra=(Harness(),))))
    assert [(s.kind, s.options.items) for s in config.sources] == [
        ("html", 'tbody[id^="normalthread_"]')]
    entry = {**discuz_example(), "title": "a.xst[["}
    path = make_config(sources=[entry])
    with pytest.raises(ConfigError) as info:
        load_config(path, Plugins(get_plugin_manager(extra=(Harness(),))))
    (error,) = [str(e) for e in info.value.errors]
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "a.xst[[" in text)
    assert error.startswith(f"{path}:{line}:") and "不是有效的 CSS 选择器" in error
