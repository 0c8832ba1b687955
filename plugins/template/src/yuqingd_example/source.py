"""``example-json``: polls ``GET url?since=CURSOR`` of an API answering

    {"posts": [{"id": "981", "title": "…", "content": "…", "link": "https://…",
                "user": "…", "created_at": 1778378400000, "reposts": 3, "comments": 1}]}

newest first, with ``created_at`` in epoch milliseconds. The cursor is the newest id seen.
"""

from __future__ import annotations

from typing import Any

import trio
from pydantic import BaseModel, field_validator
from yuqingd.plugin_api import (
    STRICT,
    Item,
    NonEmptyStr,
    PositiveDuration,
    Secret,
    SourceContext,
    SourceSpec,
)


class JsonApiOptions(BaseModel):
    model_config = STRICT
    url: NonEmptyStr
    interval: PositiveDuration = 300.0  # between polls; the supervisor adds it to the budget
    timeout: PositiveDuration = 30.0  # one whole request
    token: Secret | None = None  # sent as "Authorization: Bearer …"

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"url 应以 http:// 或 https:// 开头: {value!r}")
        return value


class ApiError(Exception):
    pass


class JsonApiSource:
    def __init__(self, spec: SourceSpec):
        self.options: JsonApiOptions = spec.options
        self.base_dir = spec.base_dir

    async def run(self, ctx: SourceContext) -> None:
        since = ctx.cursor
        while True:
            since = await self.poll(ctx, since)
            await ctx.sleep(self.options.interval)

    async def poll(self, ctx: SourceContext, since: str | None) -> str | None:
        """Fetch once, emit the new posts oldest first; returns the new cursor."""
        headers = {}
        if self.options.token is not None:
            headers["Authorization"] = f"Bearer {self.options.token.reveal(self.base_dir)}"
        with trio.fail_after(self.options.timeout):
            response = await ctx.http.get(self.options.url, params={"since": since or ""},
                                          headers=headers)
        if response.status_code == 429:  # rate limited: not an error, but worth saying
            ctx.set_health("degraded", "接口限流（HTTP 429），本轮跳过")
            return since
        if response.status_code != 200:
            raise ApiError(f"HTTP {response.status_code} from {self.options.url}")
        ctx.set_health("ok")
        posts = response.json().get("posts", [])
        ctx.log.info("example.fetched", posts=len(posts))
        for post in reversed(posts):  # the API lists newest first; emit oldest first
            since = str(post["id"])
            await ctx.emit(to_item(ctx.name, post), cursor=since)
        return since


def to_item(source: str, post: dict[str, Any]) -> Item:
    created = post.get("created_at")
    return Item(
        source=source,
        id=str(post["id"]),  # the platform's id: stable across polls, so the store dedupes
        title=str(post.get("title") or ""),
        text=str(post.get("content") or ""),
        url=str(post.get("link") or ""),
        author=str(post.get("user") or ""),
        # milliseconds → epoch seconds; a wrong unit would make every item count in 1970
        published_at=created / 1000 if isinstance(created, int | float) else None,
        reposts=int(post.get("reposts") or 0),
        comments=int(post.get("comments") or 0),
    )
