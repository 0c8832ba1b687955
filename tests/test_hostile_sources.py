"""Hostile records and responses: a malformed record is a dead letter with its place and reason
and the source goes on; item sizes and response sizes are capped; big parses leave the loop."""

from __future__ import annotations

import json
import time
import tracemalloc
import zlib

import httpx
import trio
from yuqingd_rss import FeedError

from yuqingd.model import MAX_COUNT, TEXT_LIMITS, Item
from yuqingd.testing import Harness, running_daemon

from .conftest import CONFIG
from .service.process import query
from .test_rss_source import Emitted, make_ctx, make_source, rss

REPLAY_CONFIG = CONFIG.replace("{{name: forum, kind: scripted}}",
                               "{{name: forum, kind: replay, path: stream.jsonl, speed: 60}}")


def line(n: int, **extra) -> bytes:
    record = {"at": f"2026-05-10T10:0{n}:00+08:00", "id": f"p{n}", "title": f"帖子 {n}", **extra}
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


async def test_replay_sets_aside_each_malformed_line_and_goes_on(make_config, tmp_path,
                                                                 autojump_clock):
    """Infinity, 10,000 nested brackets, a non-UTF-8 byte, an object as id, a line that is not
    JSON: each is a dead letter naming file:line and why; every good line after them is stored."""
    stream = tmp_path / "stream.jsonl"
    bad = [
        line(1).replace(b'"title"', b'"reposts": Infinity, "title"'),
        b"[" * 10_000 + b"]" * 10_000,
        line(2).replace("帖子".encode(), b"\xff\xfe"),
        line(3, id={"nested": {"object": 1}}),
        b"{not json",
        line(4, reposts=-3),
        line(5, title=["a", "list"]),
    ]
    stream.write_bytes(b"\n".join([line(0), *bad, line(6), line(7)]) + b"\n")
    path = make_config(REPLAY_CONFIG)
    async with running_daemon(path, Harness()) as daemon:
        await trio.sleep(3600)
        database = daemon.database
        assert daemon.store is not None and daemon.store.dead_letter_count() == len(bad)
    ids = [row[0] for row in query(database, "SELECT item_id FROM items ORDER BY item_id")]
    assert ids == ["p0", "p6", "p7"]
    letters = query(database, "SELECT item_id, error FROM dead_letters ORDER BY id")
    assert [where for where, _ in letters] == [f"{stream}:{n}" for n in range(2, 9)]
    reasons = [error for _, error in letters]
    assert "Infinity" in reasons[0]
    assert "嵌套超过上限" in reasons[1]
    assert "不是 UTF-8" in reasons[2]
    assert "字段 id" in reasons[3]
    assert "不是有效的 JSON" in reasons[4]
    assert "reposts" in reasons[5] and "title" in reasons[6]


def test_item_fields_are_capped_and_counts_checked():
    """A 6 MB post is kept but cut; a count beyond 2**53, a negative one or a bool is refused."""
    item = Item(source="s", id="x", title="题" * 5000, text="字" * 6_000_000)
    assert len(item.text) == TEXT_LIMITS["text"] and len(item.title) == TEXT_LIMITS["title"]
    for bad in (-1, MAX_COUNT + 1, True, 1.5):
        try:
            Item(source="s", id="x", title="t", reposts=bad)
        except (TypeError, ValueError):
            continue
        raise AssertionError(f"reposts={bad!r} accepted")


async def test_a_6mb_post_does_not_hold_the_loop(make_config, tmp_path):
    """A 6 MB post goes through the pipeline while a ticker on the same loop never waits a
    second (real time: the loop being held is what is measured)."""
    (tmp_path / "stream.jsonl").write_bytes(line(0, text="体罚" * 1_000_000) + b"\n" + line(1)
                                            + b"\n")  # 6 MB of UTF-8
    path = make_config(REPLAY_CONFIG.replace("speed: 60", "speed: 100000")
                       + "shutdown_grace: 1s\n")
    worst = 0.0
    async with running_daemon(path, Harness()) as daemon:
        last = time.perf_counter()
        with trio.move_on_after(5):
            while daemon.pipeline.processed < 2:
                await trio.sleep(0.01)
                now = time.perf_counter()
                worst, last = max(worst, now - last), now
        assert daemon.pipeline.processed == 2
    assert worst < 1.0, f"the loop was held {worst:.2f}s"


def gzip_bomb(megabytes: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: a gzip stream
    zeros = b"\0" * (1024 * 1024)
    return b"".join(packer.compress(zeros) for _ in range(megabytes)) + packer.flush()


async def test_gzip_bomb_feed_is_refused_at_the_cap_without_inflating_it():
    """300 MB of zeros served gzip-compressed: refused once past max_bytes, memory stays near
    the cap, and the loop keeps turning."""
    bomb = gzip_bomb(300)

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(bomb), headers={
            "content-encoding": "gzip", "content-type": "application/rss+xml"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        source = make_source("http://127.0.0.1/feed.xml", max_bytes=8 * 1024 * 1024)
        tracemalloc.start()
        try:
            try:
                await source.poll(make_ctx(http, Emitted()), {})
            except FeedError as exc:
                assert "上限" in str(exc)
            else:
                raise AssertionError("the bomb was accepted")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 40 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"


async def test_big_feed_is_parsed_off_the_loop_and_its_item_cut():
    """A feed with a 6 MB entry is parsed in a worker thread (a ticker never waits a second);
    the item arrives cut to the text limit."""
    body = rss(f"<item><guid>big</guid><title>大</title><description>{'体罚' * 1_000_000}"
               "</description></item>")

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(body),
                              headers={"content-type": "application/rss+xml"})

    emitted = Emitted()
    worst = 0.0
    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        source = make_source("http://127.0.0.1/feed.xml")

        async def tick(cancel: trio.CancelScope) -> None:
            nonlocal worst
            last = time.perf_counter()
            while not cancel.cancel_called:
                await trio.sleep(0.01)
                now = time.perf_counter()
                worst, last = max(worst, now - last), now

        async with trio.open_nursery() as nursery:
            nursery.start_soon(tick, nursery.cancel_scope)
            await source.poll(make_ctx(http, emitted), {})
            nursery.cancel_scope.cancel()
    assert emitted.ids == ["big"] and len(emitted.items[0].text) == TEXT_LIMITS["text"]
    assert worst < 1.0, f"the loop was held {worst:.2f}s"


async def test_a_bad_feed_entry_is_a_dead_letter_and_the_rest_arrive():
    """An entry whose guid is too long to be an id is set aside by URL#entry; the others come."""
    body = rss("<item><guid>ok-1</guid><title>一</title></item>",
               f"<item><guid>{'g' * 5000}</guid><title>二</title></item>",
               "<item><guid>ok-3</guid><title>三</title></item>")

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=httpx.ByteStream(body),
                              headers={"content-type": "application/rss+xml"})

    emitted = Emitted()
    letters: list[tuple[str, str]] = []
    async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as http:
        ctx = make_ctx(http, emitted)
        ctx._dead_letter = lambda where, reason, record: letters.append((where, reason))
        await make_source("http://127.0.0.1/feed.xml").poll(ctx, {})
    assert sorted(emitted.ids) == ["ok-1", "ok-3"]
    assert [w for w, _ in letters] == ["http://127.0.0.1/feed.xml#2"]
