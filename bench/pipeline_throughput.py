"""Items per second through the whole per-item path: enrichment over a realistic watch list
(500 names with aliases, 2,000 topic keywords), stories, rule matching and the rule runtime with
its SQLite writes — for packs of 10, 100 and 1,000 YAML rules. Prints figures, asserts nothing.

For each pack it also times the enrichment alone and the matcher alone on the same items in the
same run, so the ratios say where the time goes.

    .venv/bin/python bench/pipeline_throughput.py [--items 3000] [--sizes 10,100,1000]
    .venv/bin/python bench/pipeline_throughput.py --smoke   # a few seconds: CI runs this
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import structlog
import trio

sys.path.insert(0, str(Path(__file__).parent))
from rules_throughput import CHARS, SOURCES, TOPICS, watch_list, zipf_pick  # noqa: E402

from yuqingd.config import Role  # noqa: E402
from yuqingd.events import Events  # noqa: E402
from yuqingd.model import Item  # noqa: E402
from yuqingd.pipeline.stage import Pipeline  # noqa: E402
from yuqingd.rules.loader import load_rules  # noqa: E402
from yuqingd.runtime.directory import Directory  # noqa: E402
from yuqingd.runtime.incidents import Escalation  # noqa: E402
from yuqingd.runtime.matching import RuleRunner  # noqa: E402
from yuqingd.runtime.outreach import Outreach  # noqa: E402
from yuqingd.store import open_store  # noqa: E402
from yuqingd.time.clock import Clock  # noqa: E402


def rule_file(rnd: random.Random, entities: list[str], keywords: list[str], n_rules: int,
              topics: dict[str, list[str]]) -> str:
    lines = ["watchlist:", "  entities:"]
    lines += [f"    - {{name: {e}}}" for e in entities]
    lines.append("  topics:")
    for topic, words in topics.items():
        lines.append(f"    {topic}: [{', '.join(words)}]")
    lines.append("  negative_words: [体罚, 殴打, 隐瞒, 变质, 霸凌, 溺水, 坠楼, 中毒, 投诉, 举报]")
    lines += ["chains:", "  c: [{notify: 值班员, ack_within: 15m}, {notify: 组长}]", "rules:"]
    for i in range(n_rules):
        match = []
        if rnd.random() < 0.6:
            match.append(f"entity: [{', '.join(rnd.sample(entities, rnd.randint(1, 3)))}]")
        else:
            match.append("entity: any")
        if rnd.random() < 0.5:
            match.append(f"topic: {rnd.choice(list(topics))}")
        if rnd.random() < 0.7:
            match.append("sentiment: negative")
        if rnd.random() < 0.6:
            words = sorted({zipf_pick(rnd, keywords, 0.5) for _ in range(rnd.randint(2, 6))})
            match.append(f"keywords: {{any: [{', '.join(words)}]}}")
        lines.append(f"  - id: r{i:04d}")
        lines.append("    title: 规则")
        lines.append(f"    match: {{{', '.join(match)}}}")
        lines.append("    threshold: {count: 5, within: 1h}")
        lines.append("    then: {incident: {severity: 较大, chain: c}}")
    return "\n".join(lines) + "\n"


def items(rnd: random.Random, entities: list[str], keywords: list[str], n: int) -> list[Item]:
    out = []
    for i in range(n):
        words = [zipf_pick(rnd, keywords, 0.5) for _ in range(rnd.randint(0, 4))]
        name = zipf_pick(rnd, entities, 0.4) if rnd.random() < 0.7 else ""
        body = "".join(rnd.choices(CHARS, k=120))
        title = f"{name}{''.join(words[:2])}{''.join(rnd.choices(CHARS, k=12))}"
        out.append(Item(rnd.choice(SOURCES), f"i{i}", title, body + "".join(words)))
    return out


def rate(n: int, seconds: float) -> str:
    return f"{n / seconds:>9,.0f}"


async def measure(size: int, n_items: int, seed: int) -> None:
    rnd = random.Random(seed)
    entities, keywords = watch_list(rnd, 500, 2000)
    topics = {t: keywords[i * 100:(i + 1) * 100] for i, t in enumerate(TOPICS)}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "pack.yaml"
        path.write_text(rule_file(rnd, entities, keywords, size, topics), encoding="utf-8")
        ruleset = load_rules([path], {"值班员", "组长"})
        batch = items(rnd, entities, keywords, n_items)
        clock = Clock(start_epoch=1_800_000_000)
        clock.start()
        store = open_store(Path(folder) / "bench.sqlite3")
        events = Events()
        outreach = Outreach(store, clock, events)
        escalation = Escalation(store, clock, outreach, events)
        roles = {r: Role(person=r, channels=["bench"]) for r in ("值班员", "组长")}
        directory = Directory(roles, None, clock.to_datetime)
        outreach.configure(directory)
        escalation.configure(directory, ruleset.chains)
        runner = RuleRunner(store, clock, escalation, outreach, events)
        pipeline = Pipeline(store, clock, runner, lambda: None)
        pipeline.set_rules(ruleset, {s: "bench" for s in SOURCES})

        started = time.perf_counter()
        analyses = [pipeline.analyzer.analyze(item) for item in batch]
        enrich = time.perf_counter() - started
        started = time.perf_counter()
        for analysis in analyses:
            for fact in analysis.facts():
                runner.matcher.match(fact)
        match = time.perf_counter() - started
        started = time.perf_counter()
        for item in batch:
            pipeline.process(item, None)
        total = time.perf_counter() - started
        store.close()
    print(f"{size:>6} {rate(n_items, total)} {rate(n_items, enrich)} {rate(n_items, match)} "
          f"{enrich / total:>12.2f} {match / total:>11.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run (200 items, packs of 10 and 100) that only shows the "
                             "bench still works; its figures mean little")
    args = parser.parse_args(argv)
    if args.smoke:
        args.items, args.sizes = 200, "10,100"
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    print(f"watch list: 500 entities, 2000 keywords; {args.items:,} items per pack; "
          "items/s, higher is better")
    print(" rules  pipeline    enrich     match  enrich share  match share")
    for size in (int(s) for s in args.sizes.split(",")):
        trio.run(measure, size, args.items, args.seed)


if __name__ == "__main__":
    main()
