"""Every kind of notification reaches each channel as its Chinese card: the title with the
kind's 【label】, the severity, the items with their links, each deadline in the configured zone
with its UTC offset, and the recipient's action link — as the stand-in robots, the webhook
receiver and a real SMTP server (aiosmtpd) on 127.0.0.1 receive them."""

from __future__ import annotations

import dataclasses
import json
from zoneinfo import ZoneInfo

import httpx
import pytest
import yaml
from yuqingd_robots import yuqingd_notifier_kinds

from yuqingd.cards import LANGS, card, kinds
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.notifiers import NotifierContext, NotifierSpec
from yuqingd.time.clock import Clock

from .test_email_journald_notifiers import mailer, smtp_server  # noqa: F401 (fixture)

ROBOTS = {k.name: k for k in yuqingd_notifier_kinds()}
LINK = "https://yq.example.org/a/ack?p=zhangsan&sig=abc"

# The kinds the issue names, as the core sends them, and the 【label】 each card carries.
KINDS = {
    "incident.opened": "【新舆情】",  # opened
    "incident.escalated": "【舆情升级】",  # escalated
    "incident.repeated": "【催办提醒】",  # reminder (an incident not acknowledged)
    "expectation.reminded": "【待办提醒】",  # reminder (check-in, submission)
    "incident.overdue": "【报告逾期】",  # overdue (首报/续报/终报 not made in time)
    "watch.summary": "【跟踪报告】",  # report (of a watched story)
    "report.duty": "【值班报告】",  # duty report
    "report.weekly": "【信息周报】",  # briefing
}


def notification(kind: str) -> Notification:
    return Notification(
        id=f"{kind}:1", kind=kind, channel="c", incident="INC-9", rule="负面舆情",
        title="某中学食堂问题引发关注", severity="重大", level=2,
        to=(Recipient("值班员", "张三"),), at="2026-05-12T04:00:00+00:00",
        text="本班次新增信息 12 条。\n其中负面 3 条。",
        items=(NotifiedItem("食堂饭菜变质", "https://example.org/a/1", "微博",
                            "2026-05-12T11:50:00+08:00"),),
        deadlines=(Due("first_report", "首报", "2026-05-12T06:30:00+00:00"),),
        actions=(Action("ack", "确认", "yuqingd ack INC-9 --by 张三", url=LINK,
                        person="张三"),),
        key="某中学")


def robot(kind: str, tmp_path, base: str, **options):
    (tmp_path / "token").write_text("TOKEN1\n")
    spec = NotifierSpec("c", kind, ROBOTS[kind].options.model_validate(
        {"token": {"file": "token"}, "base_url": base, **options}
        if kind != "webhook" else {"url": base + "hook", **options}), tmp_path)
    return ROBOTS[kind].create(spec)


def shows_everything(kind: str, payload: str) -> None:
    assert KINDS[kind] in payload
    assert "重大" in payload
    assert "2026-05-12 14:30（UTC+08:00）" in payload  # the first report's deadline
    assert "https://example.org/a/1" in payload and "食堂饭菜变质" in payload
    assert LINK in payload and "确认（张三）" in payload


@pytest.mark.parametrize("kind", KINDS)
async def test_card_reaches_each_robot_and_the_webhook_with_its_fields(kind, loopback_server,
                                                                      tmp_path):
    """DingTalk, WeCom and Feishu get the kind's markdown card, the webhook its card text."""
    ok = {"errcode": 0, "errmsg": "ok"}
    loopback_server.route("POST", "/robot/send", status=200, json=ok)
    loopback_server.route("POST", "/cgi-bin/webhook/send", status=200, json=ok)
    loopback_server.route("POST", "/open-apis/bot/v2/hook/TOKEN1", status=200,
                          json={"code": 0, "msg": "success"})
    loopback_server.route("POST", "/hook", status=204)
    async with httpx.AsyncClient() as http:
        for name in ("dingtalk", "wecom", "feishu", "webhook"):
            notifier = robot(name, tmp_path, loopback_server.url("/"))
            await notifier.start(NotifierContext("c", http=http, clock=Clock()))
            await notifier.send(notification(kind))
    dingtalk, wecom, feishu, webhook = loopback_server.json_bodies()
    assert dingtalk["markdown"]["title"].startswith(KINDS[kind])
    shows_everything(kind, dingtalk["markdown"]["title"] + dingtalk["markdown"]["text"])
    shows_everything(kind, wecom["markdown"]["content"])
    header = feishu["card"]["header"]["title"]["content"]
    shows_everything(kind, header + feishu["card"]["elements"][0]["content"])
    assert webhook["kind"] == kind and webhook["card"]["lang"] == "zh"
    shows_everything(kind, webhook["card"]["title"] + webhook["card"]["text"])
    shows_everything(kind, webhook["card"]["markdown"])


@pytest.mark.parametrize("kind", KINDS)
async def test_card_arrives_by_email_in_both_parts(kind, smtp_server, tmp_path):  # noqa: F811
    """The subject is the card's title; the plain and the HTML part both carry the fields."""
    controller, inbox = smtp_server
    notifier = await mailer(tmp_path, controller.port)
    await notifier.send(notification(kind))
    (msg,) = inbox.messages
    assert str(msg["Subject"]).startswith(KINDS[kind])
    plain = msg.get_body(("plain",)).get_content()
    page = msg.get_body(("html",)).get_content()
    shows_everything(kind, plain)
    shows_everything(kind, page.replace("&amp;", "&"))
    assert f'<a href="{LINK.replace("&", "&amp;")}">确认（张三）</a>' in page


def test_card_times_are_in_the_configured_zone_with_its_offset():
    """A daemon configured for Asia/Urumqi shows UTC+06:00 times, not Shanghai's."""
    text = card(notification("incident.opened"), zone=ZoneInfo("Asia/Urumqi")).text()
    assert "首报截止：2026-05-12 12:30（UTC+06:00）" in text
    assert "编号 INC-9 · 2026-05-12 10:00（UTC+06:00）" in text


def test_card_in_english_for_lang_en():
    """``lang: en`` gives the English template; names and the core's texts stay as written."""
    shown = card(notification("incident.escalated"), lang="en", zone=ZoneInfo("Asia/Shanghai"))
    assert shown.title == "Escalated: 某中学食堂问题引发关注"
    text = shown.markdown()
    assert "**Severity**: serious (level 2)" in text
    assert "**First report due**: 2026-05-12 14:30 (UTC+08:00)" in text
    assert f"[Acknowledge (张三)]({LINK})" in text


def test_card_templates_cover_the_same_kinds_and_words_in_every_language():
    """en.yaml has an entry for every kind and word zh.yaml (the reference) has."""
    from importlib import resources

    texts = {lang: yaml.safe_load(resources.files("yuqingd.cards").joinpath(f"{lang}.yaml")
                                  .read_text(encoding="utf-8")) for lang in LANGS}
    assert set(kinds("en")) == set(kinds("zh")) >= set(KINDS)
    assert set(texts["en"]["words"]) == set(texts["zh"]["words"])


def test_a_long_report_is_cut_to_the_wecom_limit_at_a_line():
    """A duty report longer than WeCom's 4096 bytes arrives cut, saying so."""
    long = Notification(id="r", kind="report.duty", channel="c", incident="", rule="",
                        title="值班报告（2026-05-12 白班）", severity="", level=0, to=(),
                        at="2026-05-12T09:00:00+08:00",
                        text="\n".join(f"- 第 {n} 条信息的摘要" for n in range(600)))
    text = card(long).markdown(limit=4096)
    assert len(text.encode()) <= 4096
    assert text.startswith("### 值班报告（2026-05-12 白班）\n")  # the label not said twice
    assert "……（内容较长，已截断" in text and "- 第 0 条信息的摘要\n" in text
    assert json.dumps(text)  # whole characters only


def test_card_says_the_core_text_once_below_its_own_title():
    """A roster-gap text's own 【tag】 is not repeated under the card's title; a report's
    headings sit below the card's ``###`` title and its tables become lists."""
    gap = Notification(id="g", kind="duty.gap", channel="c", incident="", rule="",
                       title="排班缺口预警", severity="", level=0, to=(),
                       at="2026-05-12T09:00:00+08:00",
                       text="【排班缺口预警】2026-05-13 白班 值班员 需 2 人，缺 1 人。请调整排班。")
    text = card(gap).markdown()
    assert text.startswith("### 排班缺口预警\n") and "【排班缺口预警】" not in text
    assert "2026-05-13 白班 值班员 需 2 人，缺 1 人。请调整排班。" in text
    report = Notification(id="w", kind="report.weekly", channel="c", incident="", rule="",
                          title="信息周报（2026-W20）", severity="", level=0, to=(),
                          at="2026-05-18T09:00:00+08:00",
                          text="# 教育局网络舆情信息周报\n\n## 一、总体情况\n\n本周 3 条。\n\n"
                               "| 平台 | 信息数 | 其中负面 |\n| --- | ---: | ---: |\n"
                               "| forum | 3 | 1 |\n| weibo | 2 | 0 |\n\n链接：<https://forum.example/t/1>")
    text = card(report).markdown()
    assert "\n#### 教育局网络舆情信息周报\n" in text and "\n##### 一、总体情况\n" in text
    # robots show no tables: one line per row
    assert "\n- 平台 forum：信息数 3，其中负面 1\n- 平台 weibo：信息数 2，其中负面 0\n" in text
    assert "|" not in text
    assert "链接：[https://forum.example/t/1](https://forum.example/t/1)" in text


async def test_an_incident_reaches_a_wecom_robot_as_its_card_in_the_configured_zone(
        make_config, http_mock, tmp_path, autojump_clock):
    """Through the daemon: three negative posts open an incident, and the WeCom robot gets the
    新舆情 card with the items' links and the 确认 deadline in the configured zone (Urumqi,
    UTC+06:00), not in Shanghai's."""
    import trio

    from yuqingd.testing import Harness, running_daemon

    (tmp_path / "wecom.key").write_text("KEY1\n")
    http_mock.route("POST", "https://robot.test/cgi-bin/webhook/send",
                    json={"errcode": 0, "errmsg": "ok"})
    config = make_config(timezone="Asia/Urumqi", notifiers=[
        {"name": "duty-phone", "kind": "wecom", "token": {"file": "wecom.key"},
         "base_url": "https://robot.test"}])
    harness = Harness()
    async with running_daemon(config, harness, http=http_mock.client):
        for n in range(3):
            harness.post(f"p{n}", f"六处学校老师体罚学生 #{n}", "家长反映孩子被体罚")
            await trio.sleep(60)
        await trio.sleep(1)
    (body,) = http_mock.json_bodies()
    content = body["markdown"]["content"]
    assert content.startswith("### 【新舆情】涉校负面信息集中出现\n")
    assert "**级别**：较大（第 1 级）" in content and "**关注对象**：六处学校" in content
    assert "[六处学校老师体罚学生 #2](https://forum.example/t/p2)" in content
    # the incident opened at 2026-05-10 10:02 +08:00 = 08:02 +06:00; 15 minutes to acknowledge
    assert "**确认截止**：2026-05-10 08:17（UTC+06:00）" in content
    assert "`yuqingd ack " in content and "--by 张明`" in content


def _notifications():
    from hypothesis import strategies as st

    text = st.text(max_size=300)
    at = st.one_of(st.just(""), text, st.datetimes(timezones=st.timezones()).map(
        lambda d: d.isoformat()))
    return st.builds(
        Notification, id=text, kind=st.one_of(st.sampled_from(kinds()), text), channel=text,
        incident=text, rule=text, title=text, severity=st.one_of(st.sampled_from(
            ["一般", "较大", "重大", "特别重大", ""]), text), level=st.integers(0, 9),
        to=st.lists(st.builds(Recipient, text, text), max_size=3).map(tuple), at=at,
        text=st.text(max_size=3000),
        items=st.lists(st.builds(NotifiedItem, text, text, text, at), max_size=4).map(tuple),
        deadlines=st.lists(st.builds(Due, text, text, at), max_size=3).map(tuple),
        actions=st.lists(st.builds(Action, text, text, text, text, text), max_size=3)
        .map(tuple), key=text)


def test_any_notification_renders_in_every_format_and_language_within_the_limit():
    """Whatever a notification holds (odd text, brackets, empty fields, times that are not
    times, any kind), every format renders — a template error would leave it undelivered,
    retried forever — and the markdown keeps within the channel's byte limit."""
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_notifications())
    def check(n: Notification) -> None:
        for lang in LANGS:
            shown = card(n, lang=lang, zone=ZoneInfo("Asia/Shanghai"))
            assert len(shown.markdown(limit=4096).encode()) <= 4096
            assert len(shown.markdown(heading=False, limit=18_000).encode()) <= 18_000
            shown.text()
            shown.html()

    check()


async def test_an_operator_templates_file_changes_the_cards_of_that_channel(
        loopback_server, tmp_path):
    """``templates:`` names a YAML file of the operator's texts: the DingTalk robot sends the
    changed label, lead and word; what the file does not name stays as packaged."""
    (tmp_path / "cards.yaml").write_text(
        "kinds:\n  incident.opened: {label: 紧急舆情, lead: '请{{ n.to[0].person }}立即核实。'}\n"
        "words:\n  key: 涉及单位\n", encoding="utf-8")
    loopback_server.route("POST", "/robot/send", status=200, json={"errcode": 0})
    async with httpx.AsyncClient() as http:
        notifier = robot("dingtalk", tmp_path, loopback_server.url("/"), templates="cards.yaml")
        await notifier.start(NotifierContext("c", http=http, clock=Clock()))
        await notifier.send(notification("incident.opened"))
    body = loopback_server.json_bodies()[0]["markdown"]
    assert body["title"] == "【紧急舆情】某中学食堂问题引发关注"
    assert "请张三立即核实。" in body["text"] and "**涉及单位**：某中学" in body["text"]
    assert "**首报截止**：2026-05-12 14:30（UTC+08:00）" in body["text"]


def test_a_templates_file_with_mistakes_is_refused_whole_when_the_channel_is_built(tmp_path):
    """Every mistake is listed with a hint — when the channel is built (start or reload, which
    keeps what runs), not when an alert is being sent."""
    (tmp_path / "cards.yaml").write_text(
        "kinds:\n  incident.opened: {lable: 紧急, color: rad}\n"
        "  incident.escalated: {lead: '{{ n.nothing.here }}'}\n"
        "wrods: {}\n", encoding="utf-8")
    with pytest.raises(ValueError) as refused:
        robot("wecom", tmp_path, "https://robot.test/", templates="cards.yaml")
    message = str(refused.value)
    assert "kinds.incident.opened.lable：未知的字段（是否想写 'label'？）" in message
    assert "color" in message and "是否想写 'red'" in message
    assert "未知的部分 'wrods'（是否想写 'words'？）" in message
    (tmp_path / "cards.yaml").write_text(
        "kinds:\n  incident.escalated: {lead: '{{ n.nothing.here }}'}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="kinds.incident.escalated：模板出错"):
        robot("wecom", tmp_path, "https://robot.test/", templates="cards.yaml")


def test_an_operator_lead_that_fails_on_one_notification_falls_back_to_the_packaged_one(
        tmp_path):
    """A lead naming ``n.to[0]`` passes the check but fails for a channel addressed to nobody:
    that card goes with the packaged wording instead of being held up."""
    from structlog.testing import capture_logs

    from yuqingd.cards.custom import load_texts

    (tmp_path / "cards.yaml").write_text(
        "kinds:\n  incident.opened: {lead: '请{{ n.to[0].person }}立即核实。'}\n",
        encoding="utf-8")
    texts = load_texts("zh", tmp_path / "cards.yaml")
    nobody = dataclasses.replace(notification("incident.opened"), to=())
    with capture_logs() as logs:
        text = card(nobody, texts=texts).text()
    assert "发现新的舆情事件，请尽快确认并处置。" in text
    assert [e["event"] for e in logs] == ["card.template_failed"]
    assert "请张三立即核实。" in card(notification("incident.opened"), texts=texts).text()


def test_yuqingd_check_lists_a_templates_file_mistake_at_the_channel(make_config, tmp_path):
    """The config loader (``yuqingd check``, start and reload) refuses a config whose channel
    names a templates file with a mistake, at that channel's ``templates`` line."""
    from yuqingd.config import ConfigError, load_config
    from yuqingd.plugins import Plugins, get_plugin_manager
    from yuqingd.testing import Harness

    plugins = Plugins(get_plugin_manager(extra=(Harness(),)))
    (tmp_path / "cards.yaml").write_text("kinds:\n  incident.opened: {body: table}\n",
                                         encoding="utf-8")
    (tmp_path / "wecom.key").write_text("KEY1\n")
    config = make_config(notifiers=[
        {"name": "duty-phone", "kind": "wecom", "token": {"file": "wecom.key"},
         "templates": "cards.yaml"}])
    with pytest.raises(ConfigError) as refused:
        load_config(config, plugins)
    (error,) = refused.value.errors
    assert "kinds.incident.opened.body：应为 fields、text、lines 之一" in error.message
    line = config.read_text(encoding="utf-8").splitlines()[error.line - 1]
    assert "templates" in line
    (tmp_path / "cards.yaml").write_text("kinds:\n  incident.opened: {body: lines}\n",
                                         encoding="utf-8")
    assert load_config(config, plugins).notifiers[0].options.templates == "cards.yaml"


def test_an_edited_templates_file_applies_at_the_next_send_and_a_broken_edit_is_not_taken(
        tmp_path):
    """Like a secret file, the templates file is read again when it changes; an edit with a
    mistake keeps the wording in use and says why in the log."""
    import os

    from structlog.testing import capture_logs

    cards = tmp_path / "cards.yaml"
    cards.write_text("kinds:\n  incident.opened: {label: 紧急舆情}\n", encoding="utf-8")
    notifier = robot("wecom", tmp_path, "https://robot.test/", templates="cards.yaml")
    assert notifier.card(notification("incident.opened")).title.startswith("【紧急舆情】")
    cards.write_text("kinds:\n  incident.opened: {label: 特急舆情}\n", encoding="utf-8")
    os.utime(cards, ns=(1, 2_000_000_000))  # a different stamp, whatever the clock's grain
    assert notifier.card(notification("incident.opened")).title.startswith("【特急舆情】")
    cards.write_text("kinds:\n  incident.opened: {lable: 错}\n", encoding="utf-8")
    with capture_logs() as logs:
        assert notifier.card(notification("incident.opened")).title.startswith("【特急舆情】")
    assert [e["event"] for e in logs] == ["card.templates_refused"]
    assert "lable" in logs[0]["error"]
