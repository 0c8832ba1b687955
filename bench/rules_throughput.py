"""Rule matching throughput and memory: DurableMatcher, PythonMatcher, a bare durable-rules loop.

Prints figures, asserts nothing. See bench/README.md for how to run and read it.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Callable, Sequence

from yuqingd.rules.conditions import (
    All,
    AtLeast,
    Condition,
    EntityIs,
    Features,
    Flag,
    Not,
    simplify,
)
from yuqingd.rules.conditions import Any as AnyOf
from yuqingd.rules.engine import DurableMatcher, PythonMatcher, durable_engine

PLACES = ("耒阳", "城关", "六处", "永济", "石门", "桃源", "安化", "新化",
          "祁东", "衡南", "常宁", "攸县", "茶陵", "炎陵", "醴陵", "湘乡",
          "韶山", "涟源", "双峰", "冷水江", "汨罗", "平江", "临湘", "华容")
TOWNS = ("", "镇", "乡", "街道", "开发区")
UNITS = ("第一中学", "第二中学", "第三中学", "实验中学", "中心小学",
         "实验小学", "职业中专", "幼儿园", "九年一贯制学校", "民族中学",
         "特殊教育学校", "教育局", "教育发展中心", "教师进修学校")
SHORT = {"第一中学": "一中", "第二中学": "二中", "第三中学": "三中",
         "实验中学": "实中", "中心小学": "中小", "实验小学": "实小",
         "职业中专": "职专", "教育局": "教育局"}
TOPICS = ("校园安全", "食品安全", "师德师风", "招生入学", "违规收费", "校园欺凌",
          "教学事故", "考试安全", "校车安全", "心理健康", "课后服务", "学生资助",
          "教师待遇", "基建工程", "疫情防控", "溺水防范", "网络舆情", "家校矛盾",
          "办学许可", "课业负担")
SOURCES = ("tieba", "weibo", "douyin", "county-news", "wechat", "toutiao", "kuaishou", "zhihu")
KINDS = {"tieba": "forum", "weibo": "social", "douyin": "video", "county-news": "rss",
         "wechat": "social", "toutiao": "news", "kuaishou": "video", "zhihu": "forum"}
CHARS = ("体罚殴打隐瞒变质罢课讨薪补课收费霸凌溺水坠楼中毒食堂宿舍校车事故投诉举报维权"
         "家长老师校长学生辍学处分猥亵性侵贪污挪用克扣塌方火灾漏水停电断水发霉过期罚站"
         "辱骂歧视冲突聚集上访曝光视频热搜通报整改约谈问责停职调查")


def watch_list(rnd: random.Random, n_entities: int, n_keywords: int):
    """Entity names (each with 1-2 aliases: used by enrichment, not by matching) and keywords."""
    entities: dict[str, list[str]] = {}
    while len(entities) < n_entities:
        place, town, unit = rnd.choice(PLACES), rnd.choice(TOWNS), rnd.choice(UNITS)
        name = f"{place}{rnd.choice(PLACES) + town if town else ''}{unit}"
        aliases = [f"{place}{SHORT.get(unit, unit[-2:])}"]
        if rnd.random() < 0.5:
            aliases.append(f"{place[0]}{SHORT.get(unit, unit[:2])}")
        entities.setdefault(name, aliases)
    keywords: set[str] = set()
    while len(keywords) < n_keywords:
        keywords.add("".join(rnd.choices(CHARS, k=rnd.choice((2, 2, 3, 4)))))
    return list(entities), sorted(keywords)


def zipf_pick(rnd: random.Random, seq: Sequence[str], s: float = 1.1) -> str:
    """A few names are in most of the news; most are rarely mentioned."""
    return seq[min(len(seq) - 1, int(rnd.paretovariate(s)) - 1)]


def make_rule(rnd: random.Random, entities: list[str], keywords: list[str]) -> Condition:
    """A condition as the rule compiler builds it from a YAML ``match:``."""
    parts: list[Condition] = []
    e = rnd.random()
    if e < 0.6:  # most rules watch named units; names are drawn evenly, mentions are not
        parts.append(EntityIs(frozenset(rnd.sample(entities, rnd.randint(1, 3)))))
    elif e < 0.9:
        parts.append(EntityIs(None))
    if rnd.random() < 0.5:
        if rnd.random() < 0.3:
            parts.append(Flag("topic:*"))
        else:
            parts.append(AnyOf(tuple(Flag(f"topic:{t}")
                                     for t in rnd.sample(TOPICS, rnd.randint(1, 3)))))
    if rnd.random() < 0.7:
        values = ["negative"] if rnd.random() < 0.8 else ["negative", "neutral"]
        parts.append(AnyOf(tuple(Flag(f"sentiment:{v}") for v in values)))
    if rnd.random() < 0.3:
        parts.append(AtLeast("severity", rnd.randint(1, 3)))
    if rnd.random() < 0.2:
        parts.append(AnyOf(tuple(Flag(f"source:{s}") for s in rnd.sample(SOURCES, 2))))
    if rnd.random() < 0.75:
        where = rnd.choice(("title", "text", "both", "both"))
        words = [zipf_pick(rnd, keywords, 0.5) for _ in range(rnd.randint(2, 8))]
        parts.append(AnyOf(tuple(Flag(f"kw:{where}:{w}") for w in words)))
        if rnd.random() < 0.15:
            parts.append(Flag(f"kw:{where}:{zipf_pick(rnd, keywords, 0.5)}"))
        if rnd.random() < 0.2:
            parts.append(Not(AnyOf(tuple(Flag(f"kw:{where}:{zipf_pick(rnd, keywords)}")
                                         for _ in range(rnd.randint(1, 3))))))
    if rnd.random() < 0.3:
        number = rnd.choice(("reposts", "comments"))
        parts.append(AtLeast(number, rnd.choice((20, 50, 100, 500, 1000))))
    if rnd.random() < 0.1:  # any: [{...}, {...}]
        parts.append(AnyOf((
            All((Flag(f"kind:{rnd.choice(list(KINDS.values()))}"), AtLeast("reposts", 200))),
            All((Flag(f"topic:{rnd.choice(TOPICS)}"), AtLeast("severity", 2))),
        )))
    return simplify(All(tuple(parts)))


def make_features(rnd: random.Random, entities: list[str], keywords: list[str]) -> Features:
    """One fact as the daemon's enrichment computes it."""
    entity = zipf_pick(rnd, entities, 0.4) if rnd.random() < 0.7 else ""
    source = rnd.choice(SOURCES)
    sentiment = rnd.choices(("negative", "neutral", "positive"), (30, 55, 15))[0]
    flags = {f"sentiment:{sentiment}", f"source:{source}", f"kind:{KINDS[source]}"}
    topics = rnd.sample(TOPICS, rnd.choices((0, 1, 2), (40, 45, 15))[0])
    flags |= {f"topic:{t}" for t in topics}
    if topics:
        flags.add("topic:*")
    for _ in range(min(12, int(rnd.expovariate(0.4)))):
        word = zipf_pick(rnd, keywords, 0.5)
        where = "title" if rnd.random() < 0.3 else "text"
        flags |= {f"kw:{where}:{word}", f"kw:both:{word}"}
    severity = rnd.choices((0, 1, 2, 3), (70, 20, 8, 2))[0] if sentiment == "negative" else 0
    numbers = {"severity": severity, "reposts": int(rnd.lognormvariate(2.5, 1.8)),
               "comments": int(rnd.lognormvariate(2.0, 1.6))}
    return Features(entity, frozenset(flags), numbers)


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def rate(run: Callable[[], object], count: int) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return count / (time.perf_counter() - start)


def bare_loop(matcher: DurableMatcher, items: list[Features]) -> Callable[[], None]:
    """The same compiled rules and host, driven with facts built beforehand: engine cost only."""
    prepared = [[(name, fact, {"id": fact["id"]}) for name, fact in matcher.facts(f)]
                for f in items]
    host, fired = matcher._host, matcher._fired
    not_handled = durable_engine.MessageNotHandledException

    def run() -> None:
        for facts in prepared:
            fired.clear()
            for name, fact, key in facts:
                try:
                    host.assert_fact(name, fact)
                except not_handled:
                    continue
                host.retract_fact(name, key)

    return run


def throughput(packs: dict[int, list[tuple[str, Condition]]], items: list[Features]) -> None:
    n = len(items)
    print(f"\nthroughput over {n:,} facts (items/s; higher is better)")
    print(f"{'rules':>6} {'rulesets':>8} {'build ms':>8} {'matched':>7} {'actions':>7} "
          f"{'durable':>9} {'python':>9} {'bare dr':>9} {'durable/bare':>12}")
    for size, rules in packs.items():
        start = time.perf_counter()
        durable = DurableMatcher(rules)
        build_ms = (time.perf_counter() - start) * 1000
        python = PythonMatcher(rules)
        matched = sum(len(python.match(f)) for f in items[:2000]) / min(n, 2000)
        actions = 0
        for f in items[:2000]:
            durable.match(f)
            actions += len(durable._fired)
        actions_per = actions / min(n, 2000)
        bare = bare_loop(durable, items)
        dr = rate(lambda: [durable.match(f) for f in items], n)  # noqa: B023
        py = rate(lambda: [python.match(f) for f in items], n)  # noqa: B023
        br = rate(bare, n)
        print(f"{size:>6} {len(durable._rulesets):>8} {build_ms:>8.1f} {matched:>7.2f} "
              f"{actions_per:>7.2f} {dr:>9,.0f} {py:>9,.0f} {br:>9,.0f} {dr / br:>12.2f}")
        sys.stdout.flush()


def memory(count: int, rules: list[tuple[str, Condition]], items: list[Features]) -> None:
    durable = DurableMatcher(rules)
    for f in items[:1000]:  # first use allocates the engine's per-session pools
        durable.match(f)
    gc.collect()
    before = rss_mb()
    print(f"\nmemory: {count:,} facts through the {len(rules)}-rule DurableMatcher "
          f"({len(durable._rulesets)} rulesets)")
    print(f"  RSS before: {before:8.1f} MB")
    step = max(1, count // 5)
    done = 0
    start = time.perf_counter()
    while done < count:
        chunk = min(step, count - done)
        for i in range(done, done + chunk):
            durable.match(items[i % len(items)])
        done += chunk
        print(f"  after {done:>9,}: {rss_mb():8.1f} MB  (+{rss_mb() - before:.1f})")
        sys.stdout.flush()
    seconds = time.perf_counter() - start
    empty = all(durable._host.get_facts(n) == [] for n in durable._rulesets)
    print(f"  growth: {rss_mb() - before:+.1f} MB over {count:,} facts "
          f"({(rss_mb() - before) * 1024 * 1024 / count:.2f} bytes/fact); "
          f"{count / seconds:,.0f} facts/s; facts left in the engine: "
          f"{'none' if empty else 'SOME'}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20_000,
                        help="facts per throughput run (default 20,000); shortens the whole run")
    parser.add_argument("--memory-items", type=int,
                        help="facts pushed through the 100-rule matcher for the memory figure "
                             "(default 50 × --items: 1,000,000); 0 skips it")
    parser.add_argument("--sizes", default="10,100,1000", help="rule pack sizes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true",
                        help="a tiny run (500 facts, packs of 10 and 100, 5,000 for memory) "
                             "that only shows the bench still works")
    args = parser.parse_args(argv)
    if args.smoke:
        args.items, args.sizes, args.memory_items = 500, "10,100", 5000
    if durable_engine is None:
        sys.exit("durable-rules does not import on this Python")
    rnd = random.Random(args.seed)
    entities, keywords = watch_list(rnd, 500, 2000)
    items = [make_features(rnd, entities, keywords) for _ in range(max(args.items, 1))]
    flags = sum(len(f.flags) for f in items) / len(items)
    print(f"watch list: {len(entities)} entities, {len(keywords)} keywords; "
          f"{len(items):,} facts, {flags:.1f} flags each on average")
    sizes = [int(s) for s in args.sizes.split(",")]
    packs = {size: [(f"rule-{i:04d}", make_rule(rnd, entities, keywords)) for i in range(size)]
             for size in sorted({*sizes, 100})}
    throughput({size: packs[size] for size in sizes}, items)
    memory_items = 50 * len(items) if args.memory_items is None else args.memory_items
    if memory_items:
        memory(memory_items, packs[100], items)


if __name__ == "__main__":
    main()
