"""Duty (值班): roles, people, shifts and the roster that says who is on duty when."""

from yuqingd.duty.roster import DutySpec, Gap, Handover, Roster, Shift

__all__ = ["DutySpec", "Gap", "Handover", "Roster", "Shift"]
