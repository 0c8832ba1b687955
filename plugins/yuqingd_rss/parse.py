"""Parse a feed read from stdin and write its entries as JSON: the rss source runs this in a
child process for big bodies, so a parse that holds the GIL (expat, regular expressions over a
6 MB entry) holds the child, not the daemon's event loop."""

from __future__ import annotations

import json
import sys

import feedparser

FIELDS = ("id", "link", "title", "summary", "author", "published_parsed", "updated_parsed")


def entries_json(body: bytes, headers: dict[str, str]) -> str:
    """What the source needs of ``body``'s parse, as JSON."""
    feed = feedparser.parse(body, response_headers=headers)
    entries = []
    for entry in feed.entries:
        out = {name: entry.get(name) for name in FIELDS if entry.get(name) is not None}
        for name in ("published_parsed", "updated_parsed"):
            if name in out:
                out[name] = list(out[name])
        if entry.get("content"):
            out["content"] = [{"value": entry["content"][0].get("value", "")}]
        entries.append(out)
    why = feed.get("bozo_exception")
    return json.dumps({"entries": entries, "bozo": bool(feed.bozo),
                       "version": feed.get("version") or "",
                       "bozo_exception": str(why) if why else ""}, ensure_ascii=False)


def main() -> None:
    headers = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    sys.stdout.write(entries_json(sys.stdin.buffer.read(), headers))


if __name__ == "__main__":
    main()
