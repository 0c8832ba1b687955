"""The one obligation mechanism (yuqingd.runtime.obligations): its catch-up rule after downtime
and its rule for when a miss is not held against the people who held it."""

from __future__ import annotations

from yuqingd.runtime.obligations import DAEMON_DOWN, SILENCED, CatchUp, Step, catch_up, excuse

LADDER = (Step(100.0, "remind", people=("赵丽",)), Step(200.0, "escalate", roles=("带班领导",)),
          Step(300.0, "escalate", roles=("办公室主任",)))


def test_catch_up_leaves_a_ladder_alone_when_at_most_one_step_is_due():
    assert catch_up(LADDER, 0, 150.0, CatchUp.RESUME) == (LADDER, 0, 1)
    assert catch_up(LADDER, 1, 150.0, CatchUp.LATEST) == (LADDER, 1, 0)


def test_catch_up_resume_goes_on_from_now_at_the_ladders_spacing():
    """Back at 250 with two steps due: the first is due now, the rest keep 100 s apart."""
    steps, level, due = catch_up(LADDER, 0, 250.0, CatchUp.RESUME)
    assert (level, due) == (0, 2)
    assert [s.at for s in steps] == [250.0, 350.0, 450.0]
    assert not any(s.skipped for s in steps)


def test_catch_up_latest_says_the_latest_step_and_keeps_the_rest_on_schedule():
    """Back at 350 with every step due: the last is said, the two before are marked skipped."""
    steps, level, due = catch_up(LADDER, 0, 350.0, CatchUp.LATEST)
    assert (level, due) == (2, 3)
    assert [(s.at, s.skipped) for s in steps] == [(100.0, True), (200.0, True), (300.0, False)]


def test_a_miss_counts_unless_never_told_or_unable_to_act_through_a_stopped_daemon():
    assert excuse("ack", 100.0, up=0.0) == ""
    assert excuse("ack", 100.0, up=0.0, told=False) == SILENCED
    # A check-in is made by telling the daemon: due before it started, it could not be made.
    assert excuse("check_in", 100.0, up=200.0) == DAEMON_DOWN
    assert excuse("check_in", 300.0, up=200.0) == ""
    # A submission is owed to the bureau whether or not the daemon listened.
    assert excuse("submission", 100.0, up=200.0) == ""
