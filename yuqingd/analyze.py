"""``yuqingd analyze``: what the pipeline makes of a sample, one JSON line per item.

Policy staff run their own sample through it before they trust a rule: which watched entities
each item names (and the spelling that matched), its topics, its sentiment with the score and
the words, negations, denials and sarcasm behind it, its severity and the story it joins. Items
are analysed exactly as the daemon does (:class:`~yuqingd.pipeline.enrich.Analyzer`, enricher
plugins included); stories are grouped within the file, in file order, with the daemon's
:class:`~yuqingd.pipeline.stories.StoryIndex`. Nothing is stored, no rule is run.

The output format is documented in ``docs/analyze.md`` and pinned by ``tests/test_analyze.py``:
fields are only ever added, never renamed, removed or given another meaning.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from yuqingd import json_errors
from yuqingd.config import Config
from yuqingd.explain import ItemError, item_from_record
from yuqingd.located import msg
from yuqingd.model import Item
from yuqingd.pipeline.enrich import Analysis, Analyzer
from yuqingd.pipeline.stories import StoryIndex, signature
from yuqingd.simulate import parse_time


@dataclass(frozen=True)
class SampleItem:
    line: int  # 1-based line of the input file
    item: Item
    at: float  # when it counts for story grouping


def read_sample(lines: Iterable[str], sources: Sequence[str], name: str) -> list[SampleItem]:
    """The items of a JSONL sample (the fields of a ``yuqingd simulate`` item line). Blank
    lines and action lines are skipped, so a simulate input file can be analysed as it is.
    Raises :class:`ItemError` naming the first bad line."""
    sample: list[SampleItem] = []
    last = 0.0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ItemError(f"{where}:{exc.colno}: {json_errors.describe(exc)}") from None
        if isinstance(data, dict) and "action" in data:
            continue
        item = item_from_record(data, sources, where, default_id=str(number))
        at = item.published_at
        if at is None and isinstance(data, dict) and data.get("at"):
            try:
                at = parse_time(data["at"])
            except (ValueError, TypeError):
                raise ItemError(msg(
                    f"{where}: 字段 at 应为带时区的 ISO 8601 时间，写的是 {data['at']!r}",
                    f"{where}: field at must be ISO 8601 with an offset, not {data['at']!r}",
                )) from None
        last = at if at is not None else last  # no time given: as the line before
        sample.append(SampleItem(number, item, last))
    return sample


def analyze(config: Config, sample: Sequence[SampleItem],
            enrichers: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
    """One output record per sample item, in input order."""
    kinds = {s.name: s.kind for s in config.sources}
    analyzer = Analyzer(config.ruleset, kinds, enrichers=tuple(enrichers))
    stories = StoryIndex()
    counts: dict[int, int] = {}
    for entry in sample:
        analysis = analyzer.analyze(entry.item)
        e = analysis.enrichment
        events = [(hit.entity, topic) for hit in e.entities for topic in analysis.asserted_topics]
        sig = signature(entry.item.title, entry.item.text)
        story_id = stories.find(sig, events, entry.at)
        new = story_id is None
        if story_id is None:
            story_id = len(counts) + 1
        stories.add(story_id, sig, events, entry.at)
        counts[story_id] = counts.get(story_id, 0) + 1
        yield record(entry, analysis, story_id, new, counts[story_id],
                     stories.spread(story_id, entry.at))


def record(entry: SampleItem, analysis: Analysis, story_id: int, new: bool, items: int,
           spread: float) -> dict[str, Any]:
    """The output line for one item (docs/analyze.md)."""
    e = analysis.enrichment
    return {
        "line": entry.line,
        "source": entry.item.source,
        "id": entry.item.id,
        "title": entry.item.title,
        "entities": [{"entity": h.entity, "via": h.via, "quote": h.quote} for h in e.entities],
        "topics": list(e.topics),
        "asserted_topics": list(analysis.asserted_topics),
        "sentiment": {
            "label": e.sentiment,
            "score": round(e.sentiment_score, 3),
            "negative_words": list(e.negative_words),
            "positive_words": list(e.positive_words),
            "negations": list(e.negations),
            "denials": list(e.denials),
            "sarcasm": list(e.sarcasm),
            "plugin_scores": {name: round(value, 3) for name, value in e.scores},
        },
        "severity": e.severity,
        "excluded_by": e.excluded_by or None,
        "story": {"id": story_id, "new": new, "items": items, "spread": round(spread, 2)},
        "why": e.why,
    }


def dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False)
