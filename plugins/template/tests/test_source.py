"""The example-json source on virtual time, against canned HTTP (the http_mock fixture)."""

from __future__ import annotations

import pydantic
import pytest
from yuqingd.testing import START_EPOCH, run_source

from yuqingd_example import yuqingd_source_kinds

URL = "https://api.example/posts"
KIND = yuqingd_source_kinds()[0]


def post(n: int, minutes_ago: int = 0) -> dict:
    return {"id": str(n), "title": f"帖子 {n}", "content": "正文", "link": f"https://bbs.example/{n}",
            "user": "网友", "created_at": int((START_EPOCH - 60 * minutes_ago) * 1000),
            "reposts": n, "comments": 0}


async def test_posts_become_items_oldest_first_with_seconds_and_a_cursor(http_mock,
                                                                         autojump_clock):
    http_mock.route("GET", URL, json={"posts": [post(2), post(1, minutes_ago=5)]})
    run = await run_source(KIND, options={"url": URL}, http=http_mock.client, name="论坛", items=2)
    assert run.ids == ["1", "2"] and run.cursors == ["1", "2"]
    assert run.items[0].published_at == START_EPOCH - 300  # milliseconds → seconds
    assert run.items[0].source == "论坛" and run.items[1].reposts == 2


async def test_resumes_from_the_committed_cursor(http_mock, autojump_clock):
    http_mock.route("GET", URL, json={"posts": []})
    await run_source(KIND, options={"url": URL}, http=http_mock.client, cursor="41", until=1)
    assert http_mock.requests[0].url.params["since"] == "41"


async def test_polls_every_interval_without_being_stalled(http_mock, autojump_clock):
    http_mock.route("GET", URL, json={"posts": []})
    run = await run_source(KIND, options={"url": URL, "interval": "2h"}, http=http_mock.client,
                           until=6 * 3600 + 1)
    assert len(http_mock.requests) == 4  # at 0, 2h, 4h, 6h
    assert run.health.next_poll_at == START_EPOCH + 8 * 3600


async def test_rate_limit_is_reported_as_degraded_health(http_mock, autojump_clock):
    http_mock.route("GET", URL, status=429)
    run = await run_source(KIND, options={"url": URL}, http=http_mock.client, until=1)
    assert run.health.state == "degraded" and "限流" in run.health.message


async def test_server_error_raises_for_the_supervisor(http_mock, autojump_clock):
    http_mock.route("GET", URL, status=503)
    with pytest.raises(Exception, match="HTTP 503"):
        await run_source(KIND, options={"url": URL}, http=http_mock.client, until=1)


def test_options_are_validated_with_a_chinese_message():
    with pytest.raises(pydantic.ValidationError, match="url 应以 http:// 或 https:// 开头"):
        KIND.options.model_validate({"url": "ftp://x"})
    with pytest.raises(pydantic.ValidationError):
        KIND.options.model_validate({"url": URL, "intervall": "5m"})  # typo: not ignored
