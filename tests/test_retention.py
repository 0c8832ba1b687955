"""Retention of personal information (PIPL), on trio's virtual clock: after `retention` an
item's text, URL, title and author hash are purged, incidents keep the titles and links they
cite, rule hits and firings go with it; the purge runs daily and after a restart."""

from __future__ import annotations

import trio

from yuqingd.testing import Harness, running_daemon

from .conftest import CONFIG

DAY = 86400
START = 1_778_378_400.0  # running_daemon's default start: 2026-05-10 10:00 +08:00
FAST = "retention: 2d\nstatus_every: 1h\n"  # few wake-ups over virtual days


async def settle() -> None:
    await trio.sleep(0.01)


def post_week(harness: Harness) -> None:
    for n in range(3):  # three negative posts open an incident
        harness.post(f"neg-{n}", f"六处学校老师体罚学生 #{n}", "家长反映孩子被体罚",
                     url=f"https://bbs.example/t/{n}", author="家长张三")
    harness.post("other", "城关二中运动会", "学生们在运动会上奋勇争先",
                 url="https://bbs.example/t/other", author="李四")


def row(daemon, item_id: str) -> tuple:
    return tuple(daemon.store.db.execute(
        "SELECT title, text, url, author_hash FROM items WHERE item_id=?", (item_id,)).fetchone())


async def test_retention_runs_daily_and_incidents_keep_their_links(make_config, autojump_clock):
    """With `retention: 2d`, items are intact a little before two days and purged by the next
    daily run: the incident still lists its items' titles and links, other items keep nothing
    personal, and rule hits and firings of that time are gone."""
    harness = Harness()
    async with running_daemon(make_config(CONFIG + FAST), harness) as daemon:
        post_week(harness)
        await settle()
        [incident] = daemon.store.incidents()
        await trio.sleep(1.9 * DAY)
        assert row(daemon, "other")[:2] == ("城关二中运动会", "学生们在运动会上奋勇争先")
        assert daemon.store.count_hits("negative-burst", "六处学校", 0.0) == 3
        await trio.sleep(1.2 * DAY)
        assert row(daemon, "other") == ("", "", "", "")
        title, text, url, author = row(daemon, "neg-0")
        assert (text, author) == ("", "") and url == "https://bbs.example/t/0"
        cited = daemon.store.incident_items(incident.id)
        assert sorted((i.title, i.url) for i in cited) == [
            (f"六处学校老师体罚学生 #{n}", f"https://bbs.example/t/{n}") for n in range(3)]
        assert daemon.store.incident(incident.id).title == incident.title
        assert daemon.store.count_hits("negative-burst", "六处学校", 0.0) == 0
        assert daemon.store.db.execute("SELECT count(*) FROM firings").fetchone()[0] == 0
        # A source sending an old item again does not make it new.
        harness.post("other", "城关二中运动会", "学生们在运动会上奋勇争先")
        await settle()
        assert row(daemon, "other") == ("", "", "", "")


async def test_retention_default_180_days_and_a_run_due_while_down_runs_at_start(
        make_config, autojump_clock):
    """Without a setting items are kept 180 days; a purge that fell due while the daemon was
    stopped (or killed: each run is one transaction) runs as soon as it starts again."""
    config = make_config(CONFIG + "status_every: 1h\n")
    harness = Harness()
    async with running_daemon(config, harness) as daemon:
        post_week(harness)
        await settle()
    async with running_daemon(config, Harness(), start_epoch=START + 179 * DAY) as daemon:
        await settle()
        assert row(daemon, "other")[1] == "学生们在运动会上奋勇争先"
    async with running_daemon(config, Harness(), start_epoch=START + 181 * DAY) as daemon:
        await settle()
        assert row(daemon, "other") == ("", "", "", "")
        assert daemon.store.last_purge() >= START + 181 * DAY
