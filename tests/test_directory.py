"""Who is notified: the roster's person on shift for a role, else the standing `roles:` entry."""

from __future__ import annotations

import json

import pytest

from yuqingd.config import load_config
from yuqingd.located import ConfigError
from yuqingd.plugins import Plugins, get_plugin_manager
from yuqingd.simulate import parse_inputs, simulate
from yuqingd.testing import Harness

from .conftest import CONFIG, RULES

DUTY = CONFIG + """\
duty:
  people:
    赵丽: {{channels: [duty-phone]}}
    陈刚: {{channels: [duty-phone]}}
  shifts:
    - {{name: 白班, start: "08:00", length: 12h}}
    - {{name: 夜班, start: "20:00", length: 12h}}
  roster:
    rotation:
      start: 2026-05-10
      roles:
        值班员: {{白班: [赵丽], 夜班: [陈刚]}}
    swaps:
      - {{date: 2026-05-11, from: 赵丽, to: 陈刚}}
"""


@pytest.fixture
def plugins():
    return Plugins(get_plugin_manager(extra=(Harness(),)))


def burst(day: str, hour: str) -> list[str]:
    """Three negative posts ten minutes apart: opens an incident at the third."""
    return [json.dumps({"at": f"{day}T{hour}:{m}:00+08:00", "source": "forum", "id": f"{day}-{m}",
                        "title": f"六处学校老师体罚学生 {m}"}, ensure_ascii=False)
            for m in ("00", "10", "20")]


def first_notified(config, plugins, lines) -> list[dict]:
    out = simulate(config, plugins, parse_inputs(lines))
    return [o["to"] for o in out if o["event"] == "notification"
            and o["kind"] == "incident.opened"]


def test_the_officer_on_shift_is_notified_not_the_standing_holder(make_config, plugins):
    config = load_config(make_config(config=DUTY), plugins)
    assert first_notified(config, plugins, burst("2026-05-10", "10")) == [
        [{"role": "值班员", "person": "赵丽"}]]
    assert first_notified(config, plugins, burst("2026-05-10", "21")) == [
        [{"role": "值班员", "person": "陈刚"}]]
    # After midnight the night shift of the 10th still holds it.
    assert first_notified(config, plugins, burst("2026-05-11", "03")) == [
        [{"role": "值班员", "person": "陈刚"}]]
    # On the 11th 陈刚 took 赵丽's day shift.
    assert first_notified(config, plugins, burst("2026-05-11", "10")) == [
        [{"role": "值班员", "person": "陈刚"}]]


def test_roles_the_roster_leaves_out_fall_back_to_the_standing_holder(make_config, plugins):
    """办公室主任 is not on the roster: the escalation reaches the `roles:` entry."""
    config = load_config(make_config(config=DUTY), plugins)
    out = simulate(config, plugins, parse_inputs(burst("2026-05-10", "10")))
    escalated = [o["to"] for o in out if o["event"] == "notification"
                 and o["kind"] == "incident.escalated"]
    assert escalated[0] == [{"role": "办公室主任", "person": "李华"}]


def test_a_roster_person_with_an_unknown_channel_is_a_located_error(make_config, plugins):
    path = make_config(config=DUTY.replace("陈刚: {{channels: [duty-phone]}}",
                                           "陈刚: {{channels: [duty-pager]}}"))
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    (error,) = caught.value.errors
    assert str(error).startswith(f"{path}:16:21:")
    assert "duty-pager" in str(error)


def errors_of(path, plugins) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, plugins)
    return [str(e).split("yuqingd.yaml:", 1)[1] for e in caught.value.errors]


def test_duty_role_typos_are_located_errors(make_config, plugins):
    """A misspelt role in report_to or staffing would silently reach nobody: refused."""
    report_to = errors_of(make_config(config=DUTY + "  report_to: [值斑员]\n"), plugins)
    assert report_to == ["27:15: 未定义的角色 '值斑员'（是否想写 '值班员'？）"]
    staffing = errors_of(make_config(config=DUTY + """\
  staffing:
    - {{roles: {{办公室主人: 2}}}}
"""), plugins)
    assert [e.split(":", 2)[0] for e in staffing] == ["28"]
    assert staffing[0].endswith("配置中未定义角色 '办公室主人'（是否想写 '办公室主任'？）")


def test_an_unrelated_error_does_not_make_roster_roles_unknown(make_config, plugins):
    """With another error in the file, the rule files are still checked against the roster's
    roles too: only the real error is reported."""
    rules_with_roster_role = RULES.replace("{notify: 组长, repeat_every: 1h}",
                                           "{notify: 带班领导, repeat_every: 1h}")
    text = DUTY.replace("值班员: {{白班: [赵丽], 夜班: [陈刚]}}",
                        "值班员: {{白班: [赵丽], 夜班: [陈刚]}}\n        带班领导: [赵丽]")
    text = text.replace("timezone: Asia/Shanghai", "timezone: Asia/Shanghai\nstatus_every: soon")
    errors = errors_of(make_config(config=text, rules=rules_with_roster_role), plugins)
    assert len(errors) == 1 and errors[0].startswith("2:"), errors
