"""Writes stories.jsonl from stories_original.tsv and sentiment.tsv: each original (o01…o50)
with three reposts made the way people repost (a 【转载】-style prefix or a //@ chain, a comment
of their own, small edits, a dropped sentence, truncation with 展开全文, a 来源: line), and 100
unrelated posts of the same event types (u01…u50 plus the first 50 flat reports and complaints
of the sentiment set). Seeded, so the file is reproducible: ``python make_reposts.py``.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

HERE = Path(__file__).parent
PREFIXES = ["【转载】", "转发：", "网友爆料：", "【扩散】", "//@城南小王:", "【转】",
            "转自家长群："]
COMMENTS = ["太可怕了！", "求关注！", "这也太过分了吧", "看到这个心都揪起来了", "希望有关部门重视",
            "真的假的？", "本地的，转一下", "唉，", "大家看看", "又出事了"]
SOURCES = ["来源：本地论坛", "来源: 微博", "来源：家长群", "来源：县城生活网", "原标题：见下"]
EMOJI = ["😡", "😭", "🙏", "😱", "💔"]


def sentences(text: str) -> list[str]:
    return [s for s in re.findall(r"[^。！？]+[。！？]?", text) if s.strip()]


def small_edit(text: str, rng: random.Random) -> str:
    """A character or two changed the way reposters change them."""
    edits = [
        lambda t: t.replace("，", " ", 1),
        lambda t: t.replace("。", "！", 1),
        lambda t: t.replace("学生", "孩子", 1),
        lambda t: t.replace("今天", "今日", 1),
        lambda t: t.replace("已", "已经", 1),
        lambda t: t + rng.choice(EMOJI),
    ]
    for edit in rng.sample(edits, 2):
        text = edit(text)
    return text


def reposts(title: str, text: str, rng: random.Random) -> list[tuple[str, str]]:
    parts = sentences(text)
    # 1: prefix, small edits, a source line
    r1 = (rng.choice(PREFIXES) + title, small_edit(text, rng) + "\n" + rng.choice(SOURCES))
    # 2: a comment of one's own, one sentence dropped
    kept = list(parts)
    if len(kept) > 2:
        kept.pop(rng.randrange(1, len(kept)))
    r2 = (title, rng.choice(COMMENTS) + "".join(kept))
    # 3: truncated with 展开全文, title re-prefixed
    cut = max(20, int(len(text) * rng.uniform(0.55, 0.75)))
    r3 = (rng.choice(PREFIXES) + title, text[:cut] + "...展开全文")
    return [r1, r2, r3]


def main() -> None:
    rng = random.Random(11)
    originals, unrelated = [], []
    for line in (HERE / "stories_original.tsv").read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        sid, title, text = line.split("\t")
        (originals if sid.startswith("o") else unrelated).append((sid, title, text))
    flat = []
    for line in (HERE / "sentiment.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            label, kind, _, text = line.split("\t")
            if label == "negative" and kind in ("flat", "complaint"):
                flat.append(text)
    records = []
    for sid, title, text in originals:
        records.append({"story": sid, "id": f"{sid}-0", "title": title, "text": text})
        for n, (t, x) in enumerate(reposts(title, text, rng), start=1):
            records.append({"story": sid, "id": f"{sid}-{n}", "title": t, "text": x})
    for sid, title, text in unrelated:
        records.append({"story": sid, "id": sid, "title": title, "text": text})
    for n, text in enumerate(flat[:50], start=1):
        records.append({"story": f"s{n:02}", "id": f"s{n:02}", "title": text, "text": ""})
    rng.shuffle(records)  # reposts arrive mixed with everything else
    with (HERE / "stories.jsonl").open("w", encoding="utf-8") as out:
        for r in records:
            out.write(json.dumps(r, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
