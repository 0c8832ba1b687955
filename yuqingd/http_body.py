"""Reading an HTTP response body with a size cap that also holds against compression bombs."""

from __future__ import annotations

import zlib

__all__ = ["FetchError", "read_capped"]


class FetchError(Exception):
    """A response that cannot be used, with a Chinese reason naming the URL."""


async def read_capped(response, limit: int, url: str) -> bytes:
    """The body, decompressed here, refused once it passes ``limit`` bytes. httpx would inflate
    each received chunk whole (64 KiB of a gzip bomb is 64 MiB), so the raw bytes are inflated
    with a bound on every step instead."""
    if response.is_stream_consumed:  # a response built with its content (httpx.MockTransport)
        if len(response.content) > limit:
            raise FetchError(f"响应超过 {limit // (1024 * 1024)} MiB 的上限（max_bytes），"
                             f"已放弃: {url}")
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(47 if encoding != "deflate" else 15)  # 47: gzip or zlib
    elif encoding in ("", "identity"):
        inflater = None
    else:
        raise FetchError(f"不支持的压缩方式 {encoding!r}: {url}")
    chunks, size = [], 0
    async for raw in response.aiter_raw():
        pieces = [raw] if inflater is None else _inflate(inflater, raw, limit - size + 1)
        for piece in pieces:
            size += len(piece)
            if size > limit:
                raise FetchError(f"响应超过 {limit // (1024 * 1024)} MiB 的上限（max_bytes），"
                                 f"已放弃: {url}")
            chunks.append(piece)
    return b"".join(chunks)


def _inflate(inflater, data: bytes, budget: int) -> list[bytes]:
    out = []
    try:
        while data and budget > 0:
            piece = inflater.decompress(data, budget)
            out.append(piece)
            budget -= len(piece)
            data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise FetchError(f"压缩数据损坏: {exc}") from None
    return out
