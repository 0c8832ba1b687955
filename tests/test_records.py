"""One Item parser and one severity order (issue 8's small twins): a JSON record becomes the same
Item in replay, simulate and explain, with the same refusals; severities are ordered in one
place only. (The replay source still has its own, hardened copy of the parser: issue 12 made it
strict in parallel; it agrees with yuqingd.records field by field, as checked here.)"""

from __future__ import annotations

import json
import re

import pytest
from yuqingd_replay import _item as replay_item

from yuqingd import severity
from yuqingd.explain import ItemError, read_item
from yuqingd.model import Item
from yuqingd.records import RecordError, item_from_record
from yuqingd.simulate import SimulationInputError, parse_inputs

from .conftest import REPO

RECORD = {"at": "2026-05-10T10:00:00+08:00", "id": "p1", "source": "forum",
          "title": "六处学校老师体罚学生", "text": "家长反映", "url": "https://forum.example/p1",
          "author": "家长", "published": "2026-05-10T09:30:00+08:00", "reposts": 3,
          "comments": 1, "model_sentiment": {"value": -0.8}}
PUBLISHED = 1778376600.0  # 2026-05-10T09:30:00+08:00


def fields(item: Item) -> tuple:
    return (item.source, item.id, item.title, item.text, item.url, item.author, item.reposts,
            item.comments, item.raw.get("model_sentiment"))


def test_the_same_record_is_the_same_item_in_replay_simulate_and_explain(tmp_path):
    """Replay names its own source and re-times ``published`` as if the recording were live;
    otherwise the three read a record alike."""
    (simulated,) = parse_inputs([json.dumps(RECORD, ensure_ascii=False)])
    path = tmp_path / "item.json"
    path.write_text(json.dumps(RECORD, ensure_ascii=False), encoding="utf-8")
    explained = read_item(path, ["forum"])
    replayed = replay_item("forum", RECORD, now=PUBLISHED + 1800, speed=1.0)
    assert simulated.item is not None
    assert fields(simulated.item) == fields(explained) == fields(replayed) == (
        "forum", "p1", "六处学校老师体罚学生", "家长反映", "https://forum.example/p1", "家长", 3, 1,
        {"value": -0.8})
    assert simulated.item.published_at == explained.published_at == PUBLISHED
    assert replayed.published_at == PUBLISHED  # recorded 30 min after publishing, replayed now
    assert replay_item("mine", RECORD, now=0.0, speed=1.0).source == "mine"


@pytest.mark.parametrize(("change", "message"), [
    ({"title": 5}, "字段 title 应为字符串"),
    ({"reposts": "many"}, "字段 reposts 应为非负整数"),
    ({"comments": -1}, "字段 comments 应为非负整数"),
    ({"id": ""}, "字段 id 应为非空字符串"),
    ({"published": "2026-05-10 10:00"}, "字段 published 应为带时区"),
])
def test_a_bad_record_is_refused_alike_by_the_three(tmp_path, change, message):
    record = {**RECORD, **change}
    with pytest.raises(RecordError, match=message):
        item_from_record(record)
    with pytest.raises(SimulationInputError, match=f"<input>:1: {message}"):
        parse_inputs([json.dumps(record, ensure_ascii=False)])
    path = tmp_path / "item.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ItemError, match=message):
        read_item(path, ["forum"])
    with pytest.raises(ValueError, match=message.removeprefix("字段 published 应为带时区")
                       or "时间缺少时区"):  # the replay source makes it a dead letter
        replay_item("forum", record, now=0.0, speed=1.0)


def test_defaults_of_a_record_without_id_or_source():
    """Simulate numbers an id-less line; a record's own source wins over the default, unless
    the reader names the source (replay)."""
    bare = {"title": "x"}
    assert item_from_record(bare, default_id="line-3").id == "line-3"
    with pytest.raises(RecordError, match="缺少字段 id"):
        item_from_record(bare)
    assert item_from_record({**bare, "id": 7}, default_source="simulate").source == "simulate"
    assert item_from_record({**bare, "id": 7, "source": "rss"}, default_source="s").source == "rss"
    assert item_from_record({**bare, "id": 7}).id == "7"


def test_severity_order_is_defined_once():
    """一般 < 较大 < 重大 < 特别重大, ranked, lowered and compared by yuqingd.severity alone: no
    other module spells the four out as an order."""
    assert severity.SEVERITIES == ("一般", "较大", "重大", "特别重大")
    assert [severity.rank(s) for s in severity.SEVERITIES] == [0, 1, 2, 3]
    assert severity.rank("紧急") == -1 and severity.rank("紧急", unknown=0) == 0
    assert [severity.lower(s) for s in severity.SEVERITIES] == ["一般", "一般", "较大", "重大"]
    assert severity.at_least("特别重大", "重大") and not severity.at_least("较大", "重大")
    assert not severity.at_least("紧急", "一般")
    spelled = re.compile(r"一般\W+较大\W+重大\W+特别重大")
    found = [str(path.relative_to(REPO)) for path in sorted((REPO / "yuqingd").rglob("*.py"))
             if spelled.search(path.read_text(encoding="utf-8"))]
    assert found == ["yuqingd/severity.py"]
