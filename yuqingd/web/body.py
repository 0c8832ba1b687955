"""Request bodies, capped: a page's form and an API call are small; a larger body is refused
(413) before it is read in full."""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY = 16 * 1024  # a note and a few fields; anything larger is not from our page or API


async def capped_body(request: Request) -> bytes | None:
    """The request body, or None past MAX_BODY (read no further than that)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
