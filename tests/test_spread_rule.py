"""Rules can use a story's spread speed (`engagement: {spread: S}`), on the virtual clock."""

from __future__ import annotations

import trio

from yuqingd.testing import Harness, running_daemon

from .conftest import CONFIG

HOUR = 3600
RULES = """\
watchlist:
  entities:
    - {name: 六处学校, aliases: [六处]}
chains:
  major: [{notify: 值班员}]
rules:
  - id: spreading
    title: 快速传播的涉校信息
    match: {entity: any, engagement: {spread: 1}}
    then: {incident: {severity: 较大, chain: major}}
"""
SLOW = "六处学校操场今天开始铺设新跑道，预计下个月完工，欢迎各位家长监督施工质量"
POST = ("今天下午六处学校门口发生一起纠纷，多名家长聚集在校门口要求学校给个说法，"
        "现场有民警维持秩序，具体情况还在了解中")


async def test_spread_rule_fires_when_a_story_reaches_the_speed(make_config, autojump_clock):
    """`spread: 1` (one item per hour over three hours) holds at the third repost of a story
    within three hours; reposts further apart never reach it."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG, RULES), harness) as daemon:
        harness.post("slow-0", "六处学校新跑道", SLOW)
        for n in range(1, 3):
            await trio.sleep(2 * HOUR)
            harness.post(f"slow-{n}", "【转载】六处学校新跑道", SLOW)
        await trio.sleep(0.01)
        assert daemon.store.incidents() == []  # 3 items, but never 3 within 3 hours
        assert len({daemon.store.item("forum", f"slow-{n}").story_id for n in range(3)}) == 1
        await trio.sleep(4 * HOUR)
        harness.post("fast-0", "六处学校门口纠纷", POST)
        await trio.sleep(HOUR)
        harness.post("fast-1", "【转载】六处学校门口纠纷", POST + "...展开全文")
        await trio.sleep(0.01)
        assert daemon.store.incidents() == []
        await trio.sleep(HOUR)
        harness.post("fast-2", "转发：六处学校门口纠纷", POST)
        await trio.sleep(0.01)
        [incident] = daemon.store.incidents()
        assert incident.rule_id == "spreading"
        stories = {daemon.store.item("forum", f"fast-{n}").story_id for n in range(3)}
        assert len(stories) == 1
