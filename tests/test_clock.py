"""The daemon clock: virtual under MockClock, and following real steps of the wall clock."""

from __future__ import annotations

import time

import trio

from yuqingd.time.clock import Clock


async def test_clock_moves_with_virtual_time_and_formats_with_offset(autojump_clock):
    """A fixed-start clock advances exactly with trio's clock; times print with +08:00."""
    clock = Clock(start_epoch=1_778_378_400.0)
    clock.start()
    await trio.sleep(86400)
    assert clock.time() == 1_778_378_400.0 + 86400
    assert clock.format(clock.time()) == "2026-05-11T10:00:00+08:00"
    assert clock.resync() == 0.0  # a simulation is never pulled back to real time


async def test_clock_resync_follows_a_stepped_wall_clock(autojump_clock):
    """When the wall clock and trio's clock disagree (an NTP step), resync corrects it."""
    clock = Clock()
    clock.start()
    await trio.sleep(3600)  # virtual: the wall clock did not move an hour
    drift = clock.resync()
    assert -3601 < drift < -3599
    assert abs(clock.time() - time.time()) < 1
