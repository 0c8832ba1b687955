"""How well the pipeline reads Chinese, on the project's own labelled set (bench/data/), beside
the analysis it replaced (measured in the same run). Prints figures, asserts nothing.

- sentiment: accuracy, macro-F1, negative recall, and accuracy per kind of post (flat reports,
  negation, rumour denials, sarcasm, official notices …) on bench/data/sentiment.tsv, with the
  shipped rule pack (rules/education-bureau.yaml);
- names: evasion recall (spellings of watched names found) and false-positive rate
  (near-misses matched) on bench/data/names.tsv with bench/data/names.yaml;
- stories: pairwise precision and recall of near-duplicate grouping on bench/data/stories.jsonl
  (50 stories × original + 3 reposts, 100 unrelated posts of the same event types), and the
  time per item against an index of 1,000 and 10,000 stories;
- throughput of the analyser (items/s) at 500 names / 2,000 keywords and 5,000 / 20,000, for
  short posts and 3,000-character articles.

    .venv/bin/python bench/text_quality.py [--smoke]
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import random
import sys
import tempfile
import time
import unicodedata
from collections import defaultdict
from pathlib import Path

import ahocorasick

sys.path.insert(0, str(Path(__file__).parent))
from rules_throughput import CHARS, watch_list  # noqa: E402

from yuqingd.model import Item  # noqa: E402
from yuqingd.pipeline.enrich import Analyzer  # noqa: E402
from yuqingd.pipeline.stories import StoryIndex, signature  # noqa: E402
from yuqingd.rules.loader import load_rules  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data"
PACK = REPO / "rules" / "education-bureau.yaml"
ROLES = {"值班员", "办公室主任", "组长"}
LABELS = ("negative", "neutral", "positive")


def rows(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line and not line.startswith("#")]


# The analysis this issue replaced, kept here as the baseline -------------------------------


def legacy_normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).lower()


class LegacyAnalyzer:
    """The previous enrichment: NFKC, one Aho-Corasick pass over title and text, sentiment as
    (positive − negative word count) of the rule pack's own words."""

    def __init__(self, entities: dict[str, list[str]], keywords: list[str],
                 negative: list[str], positive: list[str]):
        self.a = ahocorasick.Automaton()
        needles: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for name, aliases in entities.items():
            for s in {name, *aliases}:
                needles[legacy_normalize(s)].append(("entity", name))
        for w in keywords:
            needles[legacy_normalize(w)].append(("topic", w))
        for w in negative:
            needles[legacy_normalize(w)].append(("negative", w))
        for w in positive:
            needles[legacy_normalize(w)].append(("positive", w))
        for n, v in needles.items():
            self.a.add_word(n, (n, v))
        self.a.make_automaton()

    def analyze(self, title: str, text: str) -> tuple[str, set[str]]:
        found: dict[str, set[str]] = defaultdict(set)
        for field in (title, text):
            for _, (_, values) in self.a.iter(legacy_normalize(field)):
                for kind, payload in values:
                    found[kind].add(payload)
        score = len(found["positive"]) - len(found["negative"])
        label = "negative" if score < 0 else "positive" if score > 0 else "neutral"
        return label, found["entity"]


def legacy_simhash(text: str) -> int:
    chars = [c for c in legacy_normalize(text) if c.isalnum()]
    grams = ["".join(chars[i:i + 3]) for i in range(max(1, len(chars) - 2))]
    weights = [0] * 64
    for gram in grams:
        h = int.from_bytes(hashlib.blake2b(gram.encode(), digest_size=8).digest(), "big")
        for bit in range(64):
            weights[bit] += 1 if h >> bit & 1 else -1
    return sum(1 << bit for bit in range(64) if weights[bit] > 0)


# sentiment ----------------------------------------------------------------------------------


def pack_words() -> tuple[list[str], list[str]]:
    rs = load_rules([PACK], ROLES)
    return list(rs.negative_words), list(rs.positive_words)


def sentiment_figures(predict, data: list[list[str]]) -> dict:
    confusion = defaultdict(int)
    by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for label, kind, _style, text in data:
        got = predict(text)
        confusion[(label, got)] += 1
        by_kind[kind][0] += got == label
        by_kind[kind][1] += 1
    total = sum(confusion.values())
    accuracy = sum(confusion[(x, x)] for x in LABELS) / total
    f1s = []
    for x in LABELS:
        tp = confusion[(x, x)]
        predicted = sum(confusion[(y, x)] for y in LABELS)
        actual = sum(confusion[(x, y)] for y in LABELS)
        p = tp / predicted if predicted else 0.0
        r = tp / actual if actual else 0.0
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    neg_actual = sum(confusion[("negative", y)] for y in LABELS)
    return {"accuracy": accuracy, "macro_f1": sum(f1s) / 3,
            "negative_recall": confusion[("negative", "negative")] / neg_actual,
            "by_kind": {k: v[0] / v[1] for k, v in sorted(by_kind.items())}, "n": total}


def run_sentiment() -> None:
    data = rows(DATA / "sentiment.tsv")
    analyzer = Analyzer(load_rules([PACK], ROLES))
    negative, positive = pack_words()
    legacy = LegacyAnalyzer({}, [], negative, positive)
    new = sentiment_figures(lambda t: analyzer.analyze(Item("b", "1", t)).enrichment.sentiment,
                            data)
    old = sentiment_figures(lambda t: legacy.analyze(t, "")[0], data)
    print(f"sentiment ({new['n']} posts, bench/data/sentiment.tsv)")
    print(f"  {'':22}{'new':>8}{'old':>8}   target")
    for key, target in (("accuracy", "≥ 0.85"), ("macro_f1", ""),
                        ("negative_recall", "≥ 0.90")):
        print(f"  {key:22}{new[key]:8.3f}{old[key]:8.3f}   {target}")
    for kind, value in new["by_kind"].items():
        print(f"  accuracy, {kind:12}{value:8.3f}{old['by_kind'][kind]:8.3f}")


# names --------------------------------------------------------------------------------------


def run_names() -> None:
    data = rows(DATA / "names.tsv")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "names.yaml"
        path.write_text((DATA / "names.yaml").read_text(encoding="utf-8"), encoding="utf-8")
        rs = load_rules([path], set())
    analyzer = Analyzer(rs)
    legacy = LegacyAnalyzer({e.name: list(e.aliases) for e in rs.entities}, [], [], [])
    for name, found_by in (("new", lambda t: {h.entity for h in analyzer.analyze(
            Item("b", "1", t)).enrichment.entities}), ("old", lambda t: legacy.analyze(t, "")[1])):
        hits = misses = fp = near = 0
        missed = []
        for expect, text in data:
            found = found_by(text)
            if expect == "-":
                near += 1
                fp += bool(found)
                if found and name == "new":
                    missed.append(f"false positive: {text} → {', '.join(found)}")
            else:
                ok = expect in found
                hits += ok
                misses += not ok
                if not ok and name == "new":
                    missed.append(f"missed: {text}")
        if name == "new":
            print(f"names ({hits + misses} spellings, {near} near-misses, bench/data/names.tsv)")
            print(f"  {'':22}{'new':>8}{'old':>8}   target")
            new = (hits / (hits + misses), fp / near)
            new_missed = missed
        else:
            print(f"  {'evasion recall':22}{new[0]:8.3f}{hits / (hits + misses):8.3f}   ≥ 0.95")
            print(f"  {'false-positive rate':22}{new[1]:8.3f}{fp / near:8.3f}   ≤ 0.05")
    for line in new_missed:
        print(f"    {line}")


# stories ------------------------------------------------------------------------------------


def pairwise(truth: list[str], got: list[int]) -> tuple[float, float]:
    tp = fp = fn = 0
    for i, j in itertools.combinations(range(len(truth)), 2):
        same, grouped = truth[i] == truth[j], got[i] == got[j]
        tp += same and grouped
        fp += grouped and not same
        fn += same and not grouped
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0)


def group_new(records: list[dict]) -> list[int]:
    index = StoryIndex()
    out = []
    for n, r in enumerate(records):
        sig = signature(r["title"], r["text"])
        found = index.find(sig, (), n)
        story = found if found is not None else n
        index.add(story, sig, (), n)
        out.append(story)
    return out


def group_old(records: list[dict]) -> list[int]:
    stories: list[tuple[int, int]] = []
    out = []
    for n, r in enumerate(records):
        h = legacy_simhash(f"{r['title']}\n{r['text'][:400]}")
        best = None
        for sid, other in stories:
            d = ((h ^ other) & ((1 << 64) - 1)).bit_count()
            if d <= 8 and (best is None or d <= best[1]):
                best = (sid, d)
        if best is None:
            stories.append((n, h))
            out.append(n)
        else:
            out.append(best[0])
    return out


def synthetic_posts(rnd: random.Random, count: int) -> list[tuple[str, str]]:
    posts = []
    for _ in range(count):
        title = "".join(rnd.choices(CHARS, k=rnd.randint(10, 20)))
        text = "".join(rnd.choices(CHARS, k=rnd.randint(40, 120)))
        posts.append((title, text))
    return posts


def story_cost(sizes: list[int], probes: int) -> None:
    """Cost per item against an index of ``size`` recent stories (CPU time of this process, so
    other load on the machine does not count), beside the old SimHash scan of every story."""
    rnd = random.Random(5)
    for size in sizes:
        index = StoryIndex()
        posts = synthetic_posts(rnd, size)
        for n, (title, text) in enumerate(posts):
            index.add(n, signature(title, text), (), 0.0)
        old_index = [(n, legacy_simhash(f"{t}\n{x[:400]}")) for n, (t, x) in enumerate(posts)]
        queries = synthetic_posts(rnd, probes)
        sigs = [signature(t, x) for t, x in queries]
        start = time.process_time()
        for sig in sigs:
            index.find(sig, (), 1.0)
        find = (time.process_time() - start) / probes * 1e3
        start = time.process_time()
        for t, x in queries:
            signature(t, x)
        sign = (time.process_time() - start) / probes * 1e3
        start = time.process_time()
        for t, x in queries:
            h = legacy_simhash(f"{t}\n{x[:400]}")
            min((((h ^ o) & ((1 << 64) - 1)).bit_count(), sid) for sid, o in old_index)
        old = (time.process_time() - start) / probes * 1e3
        print(f"  index of {size:>6} stories: {sign:6.3f} ms signature + {find:6.3f} ms look-up "
              f"= {sign + find:6.3f} ms per item   old SimHash scan {old:6.3f} ms")


def run_stories(smoke: bool) -> None:
    records = [json.loads(line) for line in
               (DATA / "stories.jsonl").read_text(encoding="utf-8").splitlines()]
    truth = [r["story"] for r in records]
    p_new, r_new = pairwise(truth, group_new(records))
    p_old, r_old = pairwise(truth, group_old(records))
    print(f"stories ({len(records)} posts, {len(set(truth))} stories, bench/data/stories.jsonl)")
    print(f"  {'':22}{'new':>8}{'old':>8}   target")
    print(f"  {'pairwise precision':22}{p_new:8.3f}{p_old:8.3f}   ≥ 0.95")
    print(f"  {'pairwise recall':22}{r_new:8.3f}{r_old:8.3f}   ≥ 0.90")
    story_cost([300] if smoke else [1000, 10000], 50 if smoke else 500)


# throughput ---------------------------------------------------------------------------------


def throughput_pack(n_names: int, n_keywords: int, rnd: random.Random) -> tuple[Path, list[str],
                                                                               list[str]]:
    names, keywords = watch_list(rnd, n_names, n_keywords)
    tmp = Path(tempfile.mkdtemp(prefix="yuqingd-bench-"))
    topics = defaultdict(list)
    for i, word in enumerate(keywords):
        topics[f"主题{i % 20}"].append(word)
    lines = ["watchlist:", "  entities:"]
    lines += [f"    - {{name: {n}, aliases: [{n[:2]}{n[-2:]}]}}" for n in names]
    lines.append("  topics:")
    lines += [f"    {t}: [{', '.join(ws)}]" for t, ws in topics.items()]
    (tmp / "pack.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp / "pack.yaml", names, keywords


def run_throughput(smoke: bool) -> None:
    rnd = random.Random(7)
    posts = [text for _l, _k, _s, text in rows(DATA / "sentiment.tsv")]
    negative, positive = pack_words()
    sizes = [(500, 2000)] if smoke else [(500, 2000), (5000, 20000)]
    print("analyser throughput (items/s of wall time, and of this process's CPU time, which other "
          "load on the machine does not count; new beside the old analyser, same items, same run)")
    for n_names, n_keywords in sizes:
        path, names, keywords = throughput_pack(n_names, n_keywords, rnd)
        rs = load_rules([path], set())
        analyzer = Analyzer(rs)
        legacy = LegacyAnalyzer({e.name: list(e.aliases) for e in rs.entities}, keywords,
                                negative, positive)
        count = 300 if smoke else 5000
        short = []
        for _ in range(count):
            post = rnd.choice(posts)
            cut = rnd.randrange(len(post) + 1)
            title = post[:cut] + rnd.choice(names) + post[cut:]
            short.append(Item("b", str(len(short)), title[:40], title[40:]))
        articles = []
        for _ in range(max(20, count // 50)):
            body = ""
            while len(body) < 3000:
                body += rnd.choice(posts) + rnd.choice(("", rnd.choice(names), "。"))
            articles.append(Item("b", str(len(articles)), rnd.choice(posts), body[:3000]))
        for label, items in (("short posts", short), ("3,000-char articles", articles)):
            new, new_cpu = _rate(analyzer.analyze, items)
            old, old_cpu = _rate(lambda it, legacy=legacy: legacy.analyze(it.title, it.text),
                                 items)
            print(f"  {n_names:>5} names / {n_keywords:>6} keywords, {label:20}"
                  f"new {new:9.0f} (cpu {new_cpu:9.0f})   old {old:9.0f} (cpu {old_cpu:9.0f})"
                  f"   new/old {new_cpu / old_cpu:5.2f}"
                  + ("   target ≥ 10,000" if label == "short posts" else ""))


def _rate(run, items: list[Item]) -> tuple[float, float]:
    """(items per second of wall time, items per second of this process's CPU time)."""
    for it in items[:20]:
        run(it)  # warm caches (lazy tables, lru caches)
    wall, cpu = time.perf_counter(), time.process_time()
    for it in items:
        run(it)
    return (len(items) / (time.perf_counter() - wall),
            len(items) / max(time.process_time() - cpu, 1e-9))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small sizes (CI)")
    args = parser.parse_args(argv)
    run_sentiment()
    print()
    run_names()
    print()
    run_stories(args.smoke)
    print()
    run_throughput(args.smoke)


if __name__ == "__main__":
    main()
