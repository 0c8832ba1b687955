"""The weekly briefing (信息周报): a week of items and incidents in a real store, as read."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from yuqingd.model import Enrichment, Item
from yuqingd.reports.weekly import collect_weekly, previous_week, render_weekly, week_period
from yuqingd.store.sqlite import Store
from yuqingd.time.clock import Clock

TZ = ZoneInfo("Asia/Shanghai")
MONDAY = dt.datetime(2026, 11, 16, tzinfo=TZ)  # 2026-W47
START = MONDAY.timestamp()
END = (MONDAY + dt.timedelta(days=7)).timestamp()
CHAIN = [
    {"notify": "值班员", "ack_within": 900},
    {"notify": "办公室主任", "ack_within": 1800},
    {"notify": "组长", "repeat_every": 3600},
]


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    """Epoch seconds ``day`` days after Monday 2026-11-16 00:00 +08:00."""
    return (MONDAY + dt.timedelta(days=day, hours=hour, minutes=minute, seconds=second)).timestamp()


def post(store: Store, source: str, item_id: str, title: str, sentiment: str, when: float, *,
         story: int | None = None, topics: tuple[str, ...] = (), severity: str = "一般",
         url: str | None = None) -> int:
    """Store one item as the pipeline does: it joins ``story``, or starts a new one; returns
    the story's id."""
    item = Item(source, item_id, title, text=title,
                url=url if url is not None else f"https://{source}.example.cn/{item_id}",
                published_at=when - 300)
    enrichment = Enrichment((), sentiment, 0.0, (), "", topics=topics, severity=severity)
    if story is None:
        story = store.add_story(0, title, when)
    else:
        store.touch_story(story, when)
    assert store.add_item(item, enrichment, "", when, story)
    return story


def fill_week(store: Store) -> None:
    """A realistic W47: two negative stories that became incidents, praise, a policy
    explainer, a hostile title, items just outside the week and handling after it."""
    post(store, "forum", "prev-1", "上周日深夜的帖子", "negative", START - 1)

    a = post(store, "weibo", "a1", "六处学校老师体罚学生", "negative", at(1, 8, 30),
         topics=("师德师风",), severity="较大")
    for source, item_id, when in (("forum", "a2", at(1, 8, 50)), ("news", "a3", at(1, 9)),
                                  ("weibo", "a4", at(2, 10))):
        post(store, source, item_id, "转：六处学校老师体罚学生", "negative", when, story=a,
             topics=("师德师风",), severity="较大")
    b = post(store, "forum", "b1", "城关二中食堂饭菜变质", "negative", at(4, 17, 30),
         topics=("食品安全", "校园安全"), severity="重大")
    post(store, "weibo", "b2", "城关二中食堂饭菜变质，家长很担心", "negative", at(4, 17, 55),
         story=b, topics=("食品安全",), severity="重大")
    post(store, "forum", "d1", "<script>alert(1)</script>家长质疑收费", "negative", at(3, 12),
         url="javascript:alert(1)")
    c = post(store, "news", "c1", "城关二中获评省级文明校园", "positive", at(0, 10),
         topics=("教育教学",))
    post(store, "weibo", "c2", "点赞！城关二中获评省级文明校园", "positive", at(0, 11), story=c)
    post(store, "weibo", "c3", "城关二中获评省级文明校园", "positive", at(0, 15), story=c)
    post(store, "weibo", "e1", "六处学校教师义务辅导获家长点赞", "positive", at(3, 20))
    post(store, "news", "f1", "2027年中考招生政策解读", "neutral", at(2, 9),
         topics=("招生考试",))
    post(store, "weibo", "h1", "周日深夜家长投诉校车超载", "negative", END - 1,
         topics=("校园安全",))
    post(store, "weibo", "next-1", "下周一零点的帖子", "negative", END)

    # An incident of the week before, closed the week before: not this week's business.
    store.add_incident("20261110-001", "negative-burst", "城关第二中学", "涉校负面信息集中出现",
                       "一般", CHAIN, at(-6, 9))
    store.audit(at(-6, 9), "opened", "yuqingd", "20261110-001", "rule=negative-burst")
    store.audit(at(-5, 9), "closed", "李华", "20261110-001", "已核实，不实信息")
    store.close_incident("20261110-001", at(-5, 9))

    # Acknowledged in ten minutes and reported; the final report comes after the week.
    store.add_incident("20261117-001", "negative-burst", "六处学校", "涉校负面信息集中出现",
                       "较大", CHAIN, at(1, 9))
    for source, item_id, when in (("weibo", "a1", at(1, 8, 30)), ("forum", "a2", at(1, 8, 50)),
                                  ("news", "a3", at(1, 9))):
        store.attach_item("20261117-001", source, item_id, when)
    store.audit(at(1, 9), "opened", "yuqingd", "20261117-001",
                "rule=negative-burst key=六处学校")
    store.acknowledge("20261117-001", "张明", "已联系六处学校核实", at(1, 9, 10))
    store.audit(at(1, 9, 10), "acknowledged", "张明", "20261117-001", "已联系六处学校核实")
    store.audit(at(1, 10, 30), "report.first", "张明", "20261117-001", "已向市教育局首报")
    store.attach_item("20261117-001", "weibo", "a4", at(2, 10))
    store.audit(at(7, 9), "report.final", "李华", "20261117-001", "调查处理完毕")
    store.audit(at(7, 9), "closed", "李华", "20261117-001", "调查处理完毕")
    store.close_incident("20261117-001", at(7, 9))

    # Nobody acknowledges: escalated to the top of the chain, then reminded.
    store.add_incident("20261120-001", "food-safety", "城关第二中学", "食品安全舆情", "重大",
                       CHAIN, at(4, 18))
    store.attach_item("20261120-001", "forum", "b1", at(4, 17, 30))
    store.attach_item("20261120-001", "weibo", "b2", at(4, 17, 55))
    store.audit(at(4, 18), "opened", "yuqingd", "20261120-001", "rule=food-safety")
    store.audit(at(4, 18, 15), "escalated", "yuqingd", "20261120-001", "level 1 → 2; late by 0s")
    store.audit(at(4, 18, 45), "escalated", "yuqingd", "20261120-001", "level 2 → 3; late by 0s")
    store.set_level("20261120-001", 3)
    store.audit(at(4, 19, 45), "repeated", "yuqingd", "20261120-001", "level 3")

    # Opened when the next week had begun.
    store.add_incident("20261123-001", "negative-burst", "六处学校", "下周的事件", "一般",
                       CHAIN, END)


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "state" / "yuqingd.sqlite3")
    yield store
    store.close()


@pytest.fixture
def briefing(store):
    """The W47 briefing of the filled store, as (Markdown, HTML)."""
    fill_week(store)
    data = collect_weekly(store, START, END)
    return render_weekly(data, Clock("Asia/Shanghai"), "某市教育局", key_dates=["教师资格考试"])


def section(markdown: str, heading: str) -> str:
    """The text under one ``## `` heading, up to the next."""
    match = re.search(rf"^## {heading}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, heading
    return match.group(1)


# periods ----------------------------------------------------------------------------------


def test_week_period_runs_monday_to_monday_in_the_zone():
    """An ISO week, or any day in it, is Monday 00:00 to the next Monday 00:00 local time."""
    expected = (MONDAY, dt.datetime(2026, 11, 23, tzinfo=TZ))
    assert week_period("2026-W47", TZ) == expected
    assert week_period(dt.date(2026, 11, 22), TZ) == expected
    assert week_period("2026-W47", TZ)[0].isoformat() == "2026-11-16T00:00:00+08:00"


def test_week_period_rejects_a_week_that_does_not_exist():
    """A malformed week or one past the year's last ISO week is refused, naming the form."""
    for bad in ("2026-47", "2026-W54", "W47"):
        with pytest.raises(ValueError, match="2026-W47"):
            week_period(bad, TZ)


def test_previous_week_is_the_week_before_the_moment():
    """A briefing made on Monday morning, or late on Sunday, covers the week before."""
    w47 = week_period("2026-W47", TZ)
    assert previous_week(dt.datetime(2026, 11, 23, 8, 0, tzinfo=TZ)) == w47
    assert previous_week(dt.datetime(2026, 11, 29, 23, 59, 59, tzinfo=TZ)) == w47
    assert previous_week(dt.datetime(2026, 1, 5, 8, tzinfo=TZ)) == week_period("2026-W01", TZ)


# what a reader sees -----------------------------------------------------------------------


def test_weekly_report_has_title_period_and_sections(briefing):
    """The Markdown opens with the unit's title and week, the period with offset, and the six
    sections in order."""
    markdown, _ = briefing
    assert markdown.startswith("# 某市教育局网络舆情信息周报（2026年第47周）\n")
    assert ("报告期：2026年11月16日（星期一）至2026年11月22日（星期日）"
            "（2026-11-16T00:00:00+08:00 至 2026-11-23T00:00:00+08:00，UTC+08:00）") in markdown
    headings = re.findall(r"^## (.+)$", markdown, re.M)
    assert headings == ["一、总体情况", "二、负面舆情", "三、正面信息", "四、事件处置情况",
                        "五、重点报道", "六、下周关注"]


def test_weekly_report_counts_items_by_source_sentiment_and_topic(briefing):
    """The overview gives totals against last week and tables by source, sentiment, topic."""
    overview = section(briefing[0], "一、总体情况")
    assert ("本周共监测到相关网络信息 13 条（上周 1 条，增加 12 条），来自 3 个来源，"
            "归为 7 组报道。其中负面 8 条（占 61.5%，较大及以上 6 条），中性 1 条，正面 4 条。"
            ) in overview
    assert "本周新生成舆情事件 2 起；截至报告期末尚有 2 起未结案。" in overview
    assert "| weibo | 7 | 4 |\n| forum | 3 | 3 |\n| news | 3 | 1 |" in overview
    assert "| 负面 | 8 | 61.5% |\n| 中性 | 1 | 7.7% |\n| 正面 | 4 | 30.8% |" in overview
    assert "| 师德师风 | 4 | 4 |" in overview and "| 校园安全 | 2 | 2 |" in overview
    assert "| 食品安全 | 2 | 2 |" in overview and "| 招生考试 | 1 | 0 |" in overview


def test_weekly_report_counts_the_week_from_monday_midnight_to_monday_midnight(briefing):
    """An item found at Sunday 23:59:59 is in; one at the next Monday 00:00 and one at the
    previous Sunday 23:59:59 are not."""
    markdown, html = briefing
    assert "周日深夜家长投诉校车超载" in section(markdown, "二、负面舆情")
    assert "2026-11-22T23:59:59+08:00" in markdown
    for text in (markdown, html):
        assert "下周一零点的帖子" not in text and "上周日深夜的帖子" not in text
        assert "下周的事件" not in text and "20261110-001" not in text


def test_weekly_report_lists_negative_items_by_story_most_severe_first(briefing):
    """Negative items appear once per story, most severe first, with their spread."""
    negative = section(briefing[0], "二、负面舆情")
    assert "本周监测到负面信息 8 条，按报道归为 4 组：" in negative
    titles = re.findall(r"^\d+\. 【(.+?)】(.+)$", negative, re.M)
    assert [t[0] for t in titles] == ["重大", "较大", "一般", "一般"]
    assert titles[0][1] == "城关二中食堂饭菜变质" and titles[1][1] == "六处学校老师体罚学生"
    assert ("来源：forum、news、weibo；首次发现：2026-11-17T08:30:00+08:00；相关信息 4 条"
            in negative)
    assert "<https://weibo.example.cn/a1>" in negative


def test_weekly_report_lists_notable_positive_items(briefing):
    """Positive items are listed, the most widely carried story first."""
    positive = section(briefing[0], "三、正面信息")
    assert "本周监测到正面信息 4 条" in positive
    assert positive.index("城关二中获评省级文明校园") < positive.index("义务辅导获家长点赞")
    assert "相关信息 3 条" in positive


def test_weekly_report_says_not_found_for_an_empty_week(store):
    """A week with nothing found says so in every section, and has no 下周关注."""
    markdown, html = render_weekly(collect_weekly(store, START, END), Clock("Asia/Shanghai"))
    assert "本周未监测到相关网络信息（上周 0 条）。" in markdown
    assert "本周未发现负面舆情信息。" in section(markdown, "二、负面舆情")
    assert "本周未发现正面信息。" in section(markdown, "三、正面信息")
    assert "本周未发现舆情事件。" in section(markdown, "四、事件处置情况")
    assert "本周未发现被多次转载的重点报道。" in section(markdown, "五、重点报道")
    assert "六、下周关注" not in markdown and "六、下周关注" not in html
    assert "本周未发现负面舆情信息。" in html


def test_weekly_report_shows_who_handled_each_incident_and_when(briefing):
    """An acknowledged incident shows who acknowledged and reported it, when, with notes."""
    incidents = section(briefing[0], "四、事件处置情况")
    first = incidents[: incidents.index("### 2.")]
    assert "### 1. 【较大】涉校负面信息集中出现（六处学校）" in first
    assert "- 处置状态：已首报（截至报告期末）" in first
    assert "- 确认：张明，2026-11-17T09:10:00+08:00" in first
    assert "关联信息 4 条" in first
    assert [line.strip() for line in first.splitlines() if line.startswith("  - 2026")] == [
        "- 2026-11-17T09:00:00+08:00 系统 生成事件（第 1 级：值班员）",
        "- 2026-11-17T09:10:00+08:00 张明 确认：已联系六处学校核实",
        "- 2026-11-17T10:30:00+08:00 张明 首报：已向市教育局首报",
    ]


def test_weekly_report_shows_an_unacknowledged_incident_climbing_the_chain(briefing):
    """An incident nobody acknowledged says so, and shows each escalation with its time."""
    incidents = section(briefing[0], "四、事件处置情况")
    second = incidents[incidents.index("### 2."):]
    assert "### 2. 【重大】食品安全舆情（城关第二中学）" in second
    assert "- 处置状态：未确认（截至报告期末）" in second
    assert "- 确认：截至报告期末无人确认，已逐级通知至第 3 级（组长）" in second
    assert [line.strip() for line in second.splitlines() if line.startswith("  - 2026")] == [
        "- 2026-11-20T18:00:00+08:00 系统 生成事件（第 1 级：值班员）",
        "- 2026-11-20T18:15:00+08:00 系统 超时未确认，升级（第 2 级：办公室主任）",
        "- 2026-11-20T18:45:00+08:00 系统 超时未确认，升级（第 3 级：组长）",
        "- 2026-11-20T19:45:00+08:00 系统 仍未确认，再次提醒（第 3 级：组长）",
    ]


def test_weekly_report_shows_incidents_as_they_stood_when_the_week_ended(briefing):
    """Handling after the week (a final report on Monday) is left to the next briefing; the
    incident is still followed in 下周关注."""
    markdown, html = briefing
    for text in (markdown, html):
        assert "终报" not in text and "调查处理完毕" not in text and "李华" not in text
    follow = section(markdown, "六、下周关注")
    assert "下周重点时段：教师资格考试" in follow
    assert "- 20261117-001 涉校负面信息集中出现（六处学校，已首报）" in follow
    assert "- 20261120-001 食品安全舆情（城关第二中学，未确认）" in follow


def test_weekly_report_follows_an_incident_open_when_the_week_began(store):
    """An incident opened late on the previous Sunday and handled this week is reported as
    carried over, with its whole timeline."""
    store.add_incident("20261115-001", "negative-burst", "六处学校", "涉校负面信息集中出现",
                       "较大", CHAIN, START - 600)
    store.audit(START - 600, "opened", "yuqingd", "20261115-001", "")
    store.acknowledge("20261115-001", "王强", "", at(0, 8))
    store.audit(at(0, 8), "acknowledged", "王强", "20261115-001", "")
    markdown, _ = render_weekly(collect_weekly(store, START, END), Clock("Asia/Shanghai"))
    assert "本周新生成舆情事件 0 起，另有此前延续事件 1 起" in markdown
    assert "- 事件编号：20261115-001（此前延续）" in markdown
    assert "2026-11-15T23:50:00+08:00 系统 生成事件" in markdown
    assert "- 确认：王强，2026-11-16T08:00:00+08:00" in markdown


def test_weekly_report_top_stories_rank_by_items_in_the_week(briefing):
    """重点报道 lists stories found at least twice, most items first, with first/last seen."""
    stories = section(briefing[0], "五、重点报道")
    titles = re.findall(r"^\d+\. (.+)$", stories, re.M)
    assert titles == ["六处学校老师体罚学生", "城关二中获评省级文明校园", "城关二中食堂饭菜变质"]
    assert "本周 4 条（累计 4 条，其中负面 4 条）；来源：forum、news、weibo" in stories
    assert ("首次发现：2026-11-17T08:30:00+08:00；本周最近：2026-11-18T10:00:00+08:00"
            in stories)
    assert "示例链接：<https://weibo.example.cn/a1>" in stories
    assert stories.count("传播速度：最快每小时") == 3


def test_weekly_report_shows_a_storys_fastest_spread(store):
    """Each top story shows its fastest spread in the week: the most items found within three
    hours, per hour — as rules' `spread` counts it."""
    story = None
    for n, (day, hour) in enumerate([(1, 8), (1, 9), (1, 10), (1, 11), (3, 9)]):
        story = post(store, "weibo", f"s{n}", "六处学校老师体罚学生", "negative", at(day, hour),
                     story=story)
    markdown, html = render_weekly(collect_weekly(store, START, END), Clock("Asia/Shanghai"))
    # 08:00, 09:00, 10:00 and 11:00 are four items within three hours (both ends count).
    assert "传播速度：最快每小时 1.3 条（3 小时内 4 条）" in section(markdown, "五、重点报道")
    assert "传播速度：最快每小时 1.3 条（3 小时内 4 条）" in html


def test_weekly_report_html_escapes_what_it_did_not_write(briefing):
    """A hostile title is shown as text in HTML and Markdown; a javascript: URL is no link."""
    markdown, html = briefing
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;家长质疑收费" in html
    assert "javascript:" not in html and "javascript:" not in markdown
    assert r"\<script\>alert(1)\</script\>家长质疑收费" in markdown


def test_weekly_report_html_is_a_self_contained_page(briefing):
    """The HTML carries its own style and loads nothing: the only URLs are the items'."""
    _, html = briefing
    assert html.startswith("<!DOCTYPE html>") and "<style>" in html
    assert "<title>某市教育局网络舆情信息周报（2026年第47周）</title>" in html
    assert "<link" not in html and "src=" not in html and "@import" not in html
    assert all(".example.cn/" in url for url in re.findall(r'href="([^"]*)"', html))
    assert "<time>2026-11-17T09:10:00+08:00</time>" in html


def test_weekly_report_tells_every_step_in_chinese(store):
    """Every step the daemon records reads in Chinese: a late first report's escalation is
    called one, durations are 小时/分钟, and withheld notifications are one summary line, not
    outbox ids."""
    incident = "20261118-001"
    store.add_incident(incident, "negative-burst", "六处学校", "涉校负面信息集中出现", "较大",
                       CHAIN, at(2, 9))
    rows = [
        (at(2, 9), "opened", "yuqingd", "rule=negative-burst key=六处学校"),
        (at(2, 9), "notification.silenced", "yuqingd",
         f"{incident}:incident.opened:L1:open:duty-phone silence=1"),
        (at(2, 9, 5), "acknowledged", "张明", ""),
        (at(2, 9, 5), "notification.silenced", "yuqingd",
         f"{incident}:incident.acknowledged:L1:ack:duty-phone silence=1"),
        (at(2, 10), "missed.first_report", "yuqingd", "第1级 值班员 张明 未在时限内首报"),
        (at(2, 10), "escalated", "yuqingd", "level 1 → 2; first_report overdue"),
        (at(2, 10, 30), "report.first", "李华", "已电话报告"),
        (at(2, 13), "repeats.done", "yuqingd", "level 2: reminded 2 times"),
        (at(2, 14), "downgraded", "yuqingd", "较大 → 一般：2h 内无新信息"),
        (at(2, 15), "closed", "yuqingd", "确认后 3600s 内无新信息，自动关闭"),
    ]
    for row in rows:
        store.audit(*row[:3], incident, row[3])
    markdown, html = render_weekly(collect_weekly(store, START, END), Clock("Asia/Shanghai"))
    steps = [line.strip() for line in section(markdown, "四、事件处置情况").splitlines()
             if line.startswith("  - 2026")]
    assert steps[3] == "- 2026-11-18T10:00:00+08:00 系统 首报逾期，升级（第 2 级：办公室主任）"
    assert "超时未确认" not in markdown
    assert "- 2026-11-18T14:00:00+08:00 系统 无新信息，降低严重程度：较大 → 一般：2小时内无新信息" \
        in steps
    assert "- 2026-11-18T15:00:00+08:00 系统 结案：确认后 1小时内无新信息，自动关闭" in steps
    assert len(steps) == len(rows) - 2  # the withheld notifications are summed up instead
    assert "- 另有 2 条事件通知因静默未发出" in markdown
    assert "另有 2 条事件通知因静默未发出" in html
    html_incidents = html[html.index("<h2>四"):html.index("<h2>五")]
    for text in (section(markdown, "四、事件处置情况"), html_incidents):
        assert not re.findall(r"[a-z]+[._][a-z_]+|silence=|\d+s\b|level \d", text)
    assert [s for s in steps if re.search("[A-Za-z]{2,}", s)] == []
