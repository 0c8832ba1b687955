"""Stories survive a restart: the index is rebuilt from the store at start."""

from __future__ import annotations

import trio

from yuqingd.testing import Harness, running_daemon

START = 1_778_378_400.0
POST = ("今天下午六处学校门口发生一起纠纷，多名家长聚集在校门口要求学校给个说法，"
        "现场有民警维持秩序，具体情况还在了解中")


async def test_story_repost_after_a_restart_joins_the_story_found_before(make_config,
                                                                         autojump_clock):
    """A repost arriving after the daemon restarted joins the original's story (no second
    new story), and the story counts both."""
    config = make_config()
    harness = Harness()
    async with running_daemon(config, harness) as daemon:
        harness.post("p1", "六处学校门口纠纷", POST)
        await trio.sleep(0.01)
        first = daemon.store.item("forum", "p1").story_id
    harness = Harness()
    async with running_daemon(config, harness, start_epoch=START + 3600) as daemon:
        harness.post("p2", "【转载】六处学校门口纠纷", POST[:50] + "...展开全文")
        await trio.sleep(0.01)
        assert daemon.store.item("forum", "p2").story_id == first
        assert daemon.store.story(first).items == 2
        assert daemon.core.pipeline.stories.recent(first, START + 3600) == 2
