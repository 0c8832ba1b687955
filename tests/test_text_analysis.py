"""How the pipeline reads Chinese: normalisation with offsets, names however spelt, sentiment
with negation, contrast, denial and sarcasm, severity from topics, stories from reposts."""

from __future__ import annotations

import textwrap

import pytest

from yuqingd.model import Item
from yuqingd.pipeline.enrich import Analyzer
from yuqingd.pipeline.normalize import compact, normalize_text
from yuqingd.pipeline.privacy import hash_author, load_salt
from yuqingd.pipeline.stories import StoryIndex, signature, strip_boilerplate
from yuqingd.rules.loader import load_rules

PACK = """\
watchlist:
  entities:
    - name: 六处学校
      aliases: [六处, 耒阳六处学校]
      not: [六处停车场]
    - name: 城关第二中学
      aliases: [二中]
      digits: false
  topics:
    校园安全: {keywords: [溺水, 坠楼, 侧翻, 身亡], severity: 重大}
    师德师风: {keywords: [体罚], severity: 较大}
lists:
  水军: [水军甲]
chains:
  c: [{notify: 值班员}]
rules:
  - {id: suspicious, title: t, match: {author_in: $水军}, then: {tag: [x]}}
"""


@pytest.fixture
def analyzer(tmp_path):
    path = tmp_path / "pack.yaml"
    path.write_text(PACK, encoding="utf-8")
    return Analyzer(load_rules([path], {"值班员"}), salt=b"install-salt")


def analyse(analyzer, title, text="", **fields):
    return analyzer.analyze(Item("s", "1", title, text, **fields))


@pytest.mark.parametrize("written, normalised", [
    ("六處學校", "六处学校"),                      # 繁體 → 简体
    ("６处学校，Ｈｅｌｌｏ！", "6处学校,hello!"),     # full-width → half-width, lower case
    ("六\u200b处\ufeff学校", "六处学校"),            # zero-width characters dropped
    ("六<b>处</b>学校", "六处学校"),                 # HTML tags dropped
    ("好&amp;坏<br>下一行", "好&坏\n下一行"),         # entities decoded, block tags break lines
    ("  六\u3000\u3000处  ", "六 处"),               # white space collapsed and trimmed
    ("①号楼", "1号楼"),                             # NFKC compatibility forms
])
def test_normalize_each_case(written, normalised):
    """Each normalisation step turns what people write into one canonical form."""
    assert normalize_text(written).text == normalised


@pytest.mark.parametrize("written", ["六<b>处</b>学校", "六 处 学 校", "六處學校",
                                     "６处学校", "六\u200b处学校", "六😡处学校"])
def test_compact_view_quotes_the_original(written):
    """The compact view matches 六处学校 and maps back to exactly what the author wrote."""
    view = compact(normalize_text(f"听说{written}出事了"))
    at = view.text.index("六处学校")
    assert view.quote(at, at + 4) == written


@pytest.mark.parametrize("spelling", [
    "六 处 学 校", "六　处　学　校", "六處學校", "六\u200d处学校", "六*处学校", "六.处学校",
    "六、处学校", "六<b>处</b>学校", "六🙄处学校", "6处学校", "６处学校", "陆处学校",
    "耒陽六處學校",
])
def test_watched_name_found_however_spelt(analyzer, spelling):
    """Separators, punctuation, emoji, HTML, 繁體 and digit forms between a name's characters
    do not hide it; the why quotes the original spelling."""
    e = analyse(analyzer, f"{spelling}老师体罚学生").enrichment
    assert [h.entity for h in e.entities] == ["六处学校"]
    assert e.entities[0].quote.replace("耒陽", "") in spelling or spelling in e.why


@pytest.mark.parametrize("text", ["全县有六处学校参加比赛", "景区新增六处停车场", "第六处学校旧址",
                                  "十六处学校获得表彰", "初二中考", "这六处学校都在城北",
                                  "县里新增了六处学校", "城关二中毒事件调查", "城关第二中心小学"])
def test_short_alias_does_not_match_ordinary_words(analyzer, text):
    """A count (有六处…, 新增了六处…), a not: phrase (六处停车场), a grade (初二中…) or a 中
    that starts another word (二中毒 is 中毒, 第二中心小学 another school) is not the name."""
    assert analyse(analyzer, text).enrichment.entities == ()


@pytest.mark.parametrize("text", ["城关二中，毒品预防教育进课堂", "城关二中学生获奖",
                                  "城关二中举办运动会"])
def test_school_abbreviation_in_zhong_still_matches(analyzer, text):
    """二中 stays the school when a separator follows it, or 学 (二中学生 is its students)."""
    assert [h.entity for h in analyse(analyzer, text).enrichment.entities] == ["城关第二中学"]


def test_digits_false_keeps_digit_forms_apart(analyzer):
    """An entity with digits: false is not found through another digit form."""
    assert [h.entity for h in analyse(analyzer, "城关二中门口").enrichment.entities] == [
        "城关第二中学"]
    assert analyse(analyzer, "2中门口").enrichment.entities == ()


@pytest.mark.parametrize("text, label", [
    ("示例一中并没有体罚学生，网传消息不实", "neutral"),   # negation + rumour denial
    ("老师一点也不优秀", "negative"),                   # negated praise
    ("老师不是很负责", "negative"),                     # negation through a degree word
    ("班主任因为作业没写完体罚学生", "negative"),          # 没 negates 写完, not 体罚
    ("事故未造成人员伤亡", "negative"),                   # the accident itself is still reported
    ("演练中无人员伤亡", "neutral"),                      # 无 + noun phrase
    ("严禁体罚学生", "neutral"),                          # prevention
    ("做好防溺水工作", "neutral"),
    ("虽然食堂饭菜有点难吃，但是老师非常负责，点赞", "positive"),  # contrast
    ("学校环境不错，但是老师经常体罚学生", "negative"),
    ("经核查，该校不存在违规收费问题", "neutral"),           # denial
    ("网上流传的欺凌视频，经核实并非本地发生", "neutral"),    # rumour refuted by a negation
    ('呵呵，真是"好"学校', "negative"),                     # sarcasm
    ('感谢学校的"关心"，把孩子安排在垃圾桶旁边', "negative"),  # quoted praise
    ('荣获"优秀教师"称号', "positive"),                     # quotes naming an honour
    ("校车侧翻", "negative"),                               # a flat serious report
    ("学校下周一正常上课", "neutral"),
])
def test_sentiment_case(analyzer, text, label):
    """Negation scope, degree, contrast, rumour denial and sarcasm each decide as stated."""
    assert analyse(analyzer, text).enrichment.sentiment == label


def test_severity_from_asserted_topic_not_from_sentiment(analyzer):
    """A flat report of a serious event is 重大; a prevented, negated or denied one is not."""
    assert analyse(analyzer, "某中学一名学生坠楼身亡").enrichment.severity == "重大"
    assert analyse(analyzer, "学生溺水被救起，老师获表彰").enrichment.severity == "重大"
    for text in ("关于做好防溺水工作的通知", "今年没有学生溺水", "网传学生坠楼，经核查不实"):
        assert analyse(analyzer, text).enrichment.severity == "一般", text


def test_why_names_words_negations_and_denials(analyzer):
    """The why shows the spelling that matched and what decided the sentiment."""
    why = analyse(analyzer, "六 处 学 校并没有体罚学生，网传消息不实").enrichment.why
    assert "原文「六 处 学 校」" in why and "并没有…体罚" in why and "不实" in why


def test_author_in_matches_through_the_salted_hash(analyzer):
    """author_in lists match the author, who is kept only as a hash under the install's salt."""
    assert "author:水军" in analyse(analyzer, "t", author="水军甲").flags
    assert "author:水军" not in analyse(analyzer, "t", author="路人").flags
    assert hash_author("水军甲", b"install-salt") != hash_author("水军甲", b"")


def test_salt_is_created_once_private_and_kept(tmp_path):
    """The salt is random, 0600, and the same on the next start."""
    salt = load_salt(tmp_path)
    assert len(salt) == 32 and load_salt(tmp_path) == salt
    assert (tmp_path / "author-salt").stat().st_mode & 0o777 == 0o600
    assert load_salt(tmp_path / "other") != salt


ORIGINAL = ("城南小学校车侧翻 多名学生受伤",
            "今天早上7点20分左右，城南小学一辆接送学生的校车在柳树湾路段转弯时侧翻，车上共有16名"
            "学生，其中4人擦伤，1人手臂骨折，已送往县人民医院。交警正在调查事故原因。")


@pytest.mark.parametrize("title, text", [
    ("【转载】" + ORIGINAL[0], "转发：" + ORIGINAL[1] + "\n来源：本地论坛"),
    (ORIGINAL[0], "太可怕了！" + ORIGINAL[1].replace("交警正在调查事故原因。", "")),
    ("网友爆料：" + ORIGINAL[0], ORIGINAL[1][:60] + "...展开全文"),
])
def test_reposts_join_the_original_story(title, text):
    """Prefixes, a comment, a dropped sentence or truncation keep a repost in its story."""
    index = StoryIndex()
    index.add(1, signature(*ORIGINAL), (), 0.0)
    assert index.find(signature(title, text), (), 60.0) == 1


def test_same_kind_of_event_elsewhere_is_another_story():
    """Another school's bus accident is not a repost."""
    index = StoryIndex()
    index.add(1, signature(*ORIGINAL), (), 0.0)
    other = ("某镇中学校车发生侧翻", "昨天下午放学时，某镇中学一辆校车在国道上与货车相撞后侧翻，"
             "造成3名学生受伤，司机被警方控制。")
    assert index.find(signature(*other), (), 60.0) is None


def test_same_entity_and_topic_within_two_days_is_one_story():
    """Differently told posts about one school's one case join, by entity and topic."""
    index = StoryIndex()
    index.add(1, signature("六处老师体罚学生？", ""), [("六处学校", "师德师风")], 0.0)
    key = [("六处学校", "师德师风")]
    assert index.find(signature("耒阳六处学校班主任殴打学生", ""), key, 3600.0) == 1
    assert index.find(signature("耒阳六处学校班主任殴打学生", ""), key, 3 * 86400.0) is None


def test_stories_are_forgotten_after_a_week_and_spread_is_per_hour():
    """The index forgets stories not seen for a week; spread counts the last three hours."""
    index = StoryIndex()
    sig = signature(*ORIGINAL)
    for minute in (0, 30, 60, 90, 120, 150):
        index.add(1, sig, (), minute * 60.0)
    assert index.spread(1, 150 * 60.0) == 2.0  # six items in three hours
    assert index.find(sig, (), 8 * 86400.0) is None and len(index) == 0


def test_boilerplate_is_stripped():
    """Repost boilerplate does not count towards similarity."""
    text = strip_boilerplate("【转载】转发：校车侧翻…展开全文\n来源：本地论坛")
    assert "转载" not in text and "展开全文" not in text and "来源" not in text
    assert "校车侧翻" in text


def test_pack_lexicon_extension(tmp_path):
    """A rule pack extends the shipped lexicon with weighted words and cue words."""
    path = tmp_path / "pack.yaml"
    path.write_text(textwrap.dedent("""\
        watchlist:
          lexicon:
            negative: {摆烂: 1.5}
            negation: [木有]
    """), encoding="utf-8")
    a = Analyzer(load_rules([path], set()))
    assert a.analyze(Item("s", "1", "老师摆烂")).enrichment.sentiment == "negative"
    assert a.analyze(Item("s", "1", "老师木有优秀")).enrichment.sentiment == "negative"
