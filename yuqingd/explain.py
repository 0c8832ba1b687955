"""``yuqingd explain``: why one item matches, or does not match, each rule.

The item is analysed exactly as the pipeline does (:class:`~yuqingd.pipeline.enrich.Analyzer`),
then every enabled rule's condition tree is evaluated for each fact (each watched entity the item
names) and printed with the conditions that held (✓) and those that did not (✗). Thresholds,
vigilance and key-date gating are described, not evaluated: explaining one item reads no windows,
incidents or calendar state. Chinese by default, English with ``LANG=en*``.

The item file holds one JSON object with the fields of a ``yuqingd simulate`` input line:
``source`` (default: the first configured source), ``id``, ``title``, ``text``, ``url``,
``author``, ``reposts``, ``comments``, ``published`` (ISO 8601 with offset). Other fields, such as
``at``, are ignored.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from yuqingd import json_errors, records
from yuqingd.config import Config
from yuqingd.located import did_you_mean, english, msg
from yuqingd.model import Item
from yuqingd.pipeline.enrich import SPREAD_BUMP, Analysis, Analyzer
from yuqingd.pipeline.normalize import normalize
from yuqingd.rules.compiler import CompiledRule
from yuqingd.rules.conditions import (
    SENTIMENTS,
    EntityIs,
    Features,
    evaluate,
    walk,
)
from yuqingd.rules.conditions import explain as explain_condition
from yuqingd.rules.model import Rule, Threshold
from yuqingd.runtime.matching import group_keys
from yuqingd.time.durations import format_duration, format_duration_zh

_PER_ZH = {"entity": "监测对象", "topic": "主题", "story": "报道", "source": "信息源"}
_VIGILANCE_ZH = {"normal": "正常", "elevated": "较高", "high": "高"}

class ItemError(Exception):
    """The item file cannot be read or does not hold an item; the message says why."""


# reading ------------------------------------------------------------------------------------


def read_item(path: Path, sources: Sequence[str]) -> Item:
    """The item in ``path`` (one JSON object); ``sources`` are the configured source names."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ItemError(msg(f"{path}: 无法读取信息文件: {exc.strerror}",
                            f"{path}: cannot read the item file: {exc.strerror}")) from exc
    except UnicodeDecodeError as exc:
        raise ItemError(msg(f"{path}: 文件不是 UTF-8 编码", f"{path}: file is not UTF-8")) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ItemError(f"{path}:{exc.lineno}:{exc.colno}: {json_errors.describe(exc)}") from exc
    return item_from_record(data, sources, str(path))


def item_from_record(data: Any, sources: Sequence[str], where: str,
                     default_id: str = "explain") -> Item:
    """The item one JSON value describes; errors start with ``where`` (``file`` or
    ``file:line``). Also reads each line of ``yuqingd analyze``."""
    if not isinstance(data, dict):
        raise ItemError(msg(f"{where}: 应为一个 JSON 对象，例如 {{\"title\": \"…\"}}",
                            f"{where}: expected one JSON object, e.g. {{\"title\": \"…\"}}"))
    if "action" in data:
        raise ItemError(msg(f"{where}: 这是人员操作（action），不是信息",
                            f"{where}: this is a person's action, not an item"))

    default = sources[0] if sources else ""
    try:
        item = records.item_from_record(data, default_source=default, default_id=default_id)
    except records.RecordError as exc:
        raise ItemError(f"{where}: {exc}") from None
    source = item.source
    if sources and source not in sources:
        raise ItemError(f"{where}: " + msg(
            f"配置中没有信息源 '{source}'（已配置: {'、'.join(sources)}）"
            + did_you_mean(source, sources),
            f"no source '{source}' in the config (configured: {', '.join(sources)})"
            + did_you_mean(source, sources)))
    return item.cleaned(source=source)  # as the pipeline gets it: lone surrogates replaced


# explaining ---------------------------------------------------------------------------------


def explain_item(config: Config, item: Item) -> str:
    """The whole explanation of ``item`` under ``config``'s rules, as printable text."""
    kinds = {s.name: s.kind for s in config.sources}
    analysis = Analyzer(config.ruleset, kinds).analyze(item)
    lines = _item_lines(config, item, kinds)
    lines += [""] + _enrichment_lines(config, item, analysis)
    rules = config.ruleset.rules
    lines += ["", msg(f"规则（{len(rules)} 条启用；阈值只作说明，不读取已有的窗口和事件）:",
                      f"Rules ({len(rules)} enabled; thresholds are described, not evaluated "
                      "against stored windows and incidents):")]
    if not rules:
        lines.append(msg("  （没有启用的规则）", "  (no enabled rules)"))
    for cr in rules:
        lines += [""] + _rule_lines(cr, item, analysis)
    return "\n".join(lines) + "\n"


def _item_lines(config: Config, item: Item, kinds: dict[str, str]) -> list[str]:
    kind = kinds.get(item.source)
    source = item.source or "-"
    if kind:
        source += msg(f"（类型 {kind}）", f" (kind {kind})")
    lines = [msg(f"信息: {item.id}「{item.title}」", f"Item: {item.id} “{item.title}”"),
             msg(f"  来源: {source}", f"  source: {source}")]
    if item.published_at is not None:
        when = dt.datetime.fromtimestamp(item.published_at, ZoneInfo(config.file.timezone))
        lines.append(msg(f"  发布时间: {when.isoformat(sep=' ')}",
                         f"  published: {when.isoformat(sep=' ')}"))
    lines.append(msg(f"  转发 {item.reposts}，评论 {item.comments}",
                     f"  reposts {item.reposts}, comments {item.comments}"))
    return lines


def _found(words: Sequence[str], item: Item) -> list[str]:
    """The words present in the item's title or text, as the analyser finds them."""
    haystacks = (normalize(item.title), normalize(item.text))
    return [w for w in words if normalize(w) and any(normalize(w) in h for h in haystacks)]


def _enrichment_lines(config: Config, item: Item, analysis: Analysis) -> list[str]:
    e = analysis.enrichment
    ruleset = config.ruleset
    none = msg("无", "none")
    sep = msg("、", ", ")
    lines = [msg("富化结果:", "Enrichment:")]

    hits = []
    for hit in e.entities:
        if normalize(hit.via) == normalize(hit.entity):
            hits.append(hit.entity)
        else:
            hits.append(msg(f"{hit.entity}（别名「{hit.via}」）",
                            f"{hit.entity} (alias “{hit.via}”)"))
    lines.append(msg("  监测对象: ", "  entities: ") + (sep.join(hits) or none))

    topics = []
    for name in e.topics:
        words = sep.join(_found(ruleset.topics[name].keywords, item))
        topics.append(msg(f"{name}（关键词: {words}）", f"{name} (keywords: {words})"))
    lines.append(msg("  主题: ", "  topics: ") + (sep.join(topics) or none))

    negative = sep.join(e.negative_words) or none
    positive = sep.join(e.positive_words) or none
    sentiment = msg(*SENTIMENTS[e.sentiment])
    lines.append(msg(
        f"  情感: {sentiment}（得分 {e.sentiment_score:+.2f}；"
        f"负面词: {negative}；正面词: {positive}）",
        f"  sentiment: {sentiment} (score {e.sentiment_score:+.2f}; negative words: {negative}; "
        f"positive words: {positive})"))
    for zh, en, values in (("否定", "negated", e.negations), ("辟谣", "denied by", e.denials),
                           ("反讽", "sarcasm", e.sarcasm)):
        if values:
            lines.append(msg(f"    {zh}: ", f"    {en}: ") + sep.join(values))

    lines.append(msg("  严重程度: ", "  severity: ") + _severity_reason(config, item, analysis))
    if e.excluded_by:
        lines.append(msg(f"  排除: 含排除词「{e.excluded_by}」，不参与任何规则匹配",
                         f"  excluded: contains “{e.excluded_by}”, so it matches no rule"))
    else:
        lines.append(msg("  排除: 无", "  excluded: no"))
    if not english():
        lines.append(f"  摘要: {e.why}")
    return lines


def _severity_reason(config: Config, item: Item, analysis: Analysis) -> str:
    e = analysis.enrichment
    ranked = [(config.ruleset.topics[t].severity, t) for t in analysis.asserted_topics]
    if ranked:
        parts = msg("按主题: ", "from topics: ") + msg("、", ", ").join(
            f"{t} {s}" for s, t in ranked)
    else:
        parts = msg("没有确认发生的主题，基础为一般", "no topic stated as happening, base 一般")
    unasserted = [t for t in e.topics if t not in analysis.asserted_topics]
    if unasserted:
        parts += msg(f"；{'、'.join(unasserted)} 处于否定、防范或辟谣语境，不计",
                     f"; {', '.join(unasserted)} negated, prevented or denied: not counted")
    spread = item.reposts + item.comments
    if spread >= SPREAD_BUMP and (ranked or e.sentiment == "negative"):
        parts += msg(f"；转发+评论 {spread} ≥ {SPREAD_BUMP}，升一级",
                     f"; reposts+comments {spread} ≥ {SPREAD_BUMP}, one step up")
    return msg(f"{e.severity}（{parts}；与情感无关）", f"{e.severity} ({parts}; sentiment aside)")


def _rule_lines(cr: CompiledRule, item: Item, analysis: Analysis) -> list[str]:
    rule = cr.rule
    excluded = analysis.enrichment.excluded_by
    if rule.schedule is not None:
        return [f"[·] {_rule_name(rule)}",
                msg(f"  定时规则（{rule.schedule}），按时间触发，不匹配单条信息",
                    f"  scheduled rule ({rule.schedule}): fires on its timetable, not on items")]
    facts = analysis.facts()
    if any(isinstance(node, EntityIs) for node in walk(cr.condition)):
        # The verdict depends on the entity: one block per watched entity the item names.
        blocks = [(_fact_label(f), f, _keys(cr, f, analysis, item)) for f in facts]
    else:
        keys = [k for f in facts for k in _keys(cr, f, analysis, item)]
        blocks = [(msg("本条", "this item"), facts[0], list(dict.fromkeys(keys)))]
    body: list[str] = []
    counted = False
    for who, fact, keys in blocks:
        holds = evaluate(cr.condition, fact)
        counted = counted or (holds and bool(keys) and not excluded)
        if holds and excluded:
            verdict = msg("条件满足，但本条含排除词，不计入",
                          "conditions hold, but the item is excluded: not counted")
        elif holds and not keys:
            per = rule.threshold.per if rule.threshold else "entity"
            verdict = msg(f"条件满足，但本条没有可分组的{_PER_ZH[per]}，不计入",
                          f"conditions hold, but the item has no {per} to group by: not counted")
        elif holds:
            verdict = msg(f"条件满足（计入分组 {'、'.join(keys)}）",
                          f"conditions hold (counted for {', '.join(keys)})")
        else:
            verdict = msg("条件不满足", "conditions do not hold")
        body.append(f"  {who}: {verdict}")
        body += [f"    {line}" for line in explain_condition(cr.condition, fact)]
    if excluded:
        body.append(msg(f"  含排除词「{excluded}」，本条不参与规则匹配",
                        f"  contains the exclusion word “{excluded}”: the item matches no rule"))
    body.append("  " + _threshold_text(rule.threshold))
    body += ["  " + line for line in _vigilance_lines(rule)]
    body += ["  " + line for line in _key_date_lines(rule)]
    body.append("  " + _actions_text(rule))
    head = (msg("[✓ 匹配]", "[✓ matches]") if counted
            else msg("[✗ 不匹配]", "[✗ no match]"))
    return [f"{head} {_rule_name(rule)}", *body]


def _rule_name(rule: Rule) -> str:
    return msg(f"{rule.id}「{rule.title}」", f"{rule.id} “{rule.title}”")


def _keys(cr: CompiledRule, fact: Features, analysis: Analysis, item: Item) -> list[str]:
    """The group keys a matching fact would count under (as the rule runner groups them)."""
    return group_keys(cr, fact.entity, analysis.enrichment.topics, item.source,
                      msg("本条所属报道", "this item's story"))


def _fact_label(fact: Features) -> str:
    if fact.entity:
        return msg(f"监测对象 {fact.entity}", f"entity {fact.entity}")
    return msg("（未提及监测对象）", "(no watched entity)")


# conditions ---------------------------------------------------------------------------------


# thresholds, vigilance, key dates, actions ----------------------------------------------------


def _duration(seconds: float) -> str:
    if english():
        return format_duration(seconds)
    return format_duration_zh(seconds, spaced=True)


def _threshold_text(t: Threshold | None) -> str:
    if t is None:
        return msg("阈值: 无，每条匹配的信息都触发", "threshold: none, every matching item fires")
    per_zh, per = _PER_ZH[t.per], t.per
    if t.count is not None and t.within is not None:
        within = _duration(t.within)
        return msg(f"阈值: {within}内同一{per_zh} {t.count} 条",
                   f"threshold: {t.count} items for the same {per} within {within}")
    if t.spike:
        s = t.spike
        within, baseline = _duration(s.within), _duration(s.baseline)
        return msg(f"阈值: 同一{per_zh}最近 {within}内至少 {s.min_count} 条，"
                   f"且频率达到此前 {baseline}的 {s.factor:g} 倍",
                   f"threshold: for the same {per}, at least {s.min_count} items in the last "
                   f"{within} at {s.factor:g}× the rate of the {baseline} before")
    if t.new_story:
        return msg("阈值: 新报道的第一条（本条是否开启新报道取决于此前收到的信息，这里不判断）",
                   "threshold: the first item of a new story (whether this item starts one "
                   "depends on earlier items; not judged here)")
    assert t.flatline is not None
    silent = _duration(t.flatline.silent_for)
    return msg(f"阈值: 同一{per_zh} {silent}内没有匹配的信息时触发（匹配的信息会重新计时）",
               f"threshold: fires when the same {per} has no matching item for {silent} "
               "(a matching item restarts the count)")


def _vigilance_lines(rule: Rule) -> list[str]:
    lines = []
    for level, o in rule.vigilance.items():
        parts = []
        if o.count is not None:
            parts.append(msg(f"条数 {o.count}", f"count {o.count}"))
        if o.within is not None:
            parts.append(msg(f"时间窗 {_duration(o.within)}", f"within {_duration(o.within)}"))
        if o.factor is not None:
            parts.append(msg(f"倍数 {o.factor:g}", f"factor {o.factor:g}"))
        if o.severity is not None:
            parts.append(msg(f"严重程度 {o.severity}", f"severity {o.severity}"))
        if o.ack_within_factor is not None:
            parts.append(msg(f"确认时限 ×{o.ack_within_factor:g}",
                             f"ack within ×{o.ack_within_factor:g}"))
        joined = msg("、", ", ").join(parts) or msg("不变", "unchanged")
        lines.append(msg(f"警戒级别{_VIGILANCE_ZH[level]}（{level}）时: {joined}",
                         f"when vigilance is {level}: {joined}"))
    return lines


def _key_date_lines(rule: Rule) -> list[str]:
    def names(values: list[str]) -> str:
        return msg("、", ", ").join(msg("任一重点日期", "any key date") if v == "any" else v
                                    for v in values)

    lines = []
    if rule.only_on:
        lines.append(msg(f"仅在重点日期触发: {names(rule.only_on)}",
                         f"fires only on key dates: {names(rule.only_on)}"))
    if rule.except_on:
        lines.append(msg(f"以下重点日期不触发: {names(rule.except_on)}",
                         f"never fires on key dates: {names(rule.except_on)}"))
    return lines


def _actions_text(rule: Rule) -> str:
    then = rule.then
    parts = []
    if then.incident:
        parts.append(msg(f"打开事件（{then.incident.severity}，升级链 {then.incident.chain}）",
                         f"open an incident ({then.incident.severity}, "
                         f"chain {then.incident.chain})"))
    if then.notify:
        to = [*_listed(then.notify.role), *_listed(then.notify.channel)]
        parts.append(msg(f"通知 {'、'.join(to)}", f"notify {', '.join(to)}"))
    if then.watch:
        length = _duration(then.watch.duration)
        parts.append(msg(f"跟踪 {length}", f"watch for {length}"))
    if then.tag:
        parts.append(msg(f"标记 {'、'.join(then.tag)}", f"tag {', '.join(then.tag)}"))
    if rule.cooldown is not None:
        cooldown = _duration(rule.cooldown)
        parts.append(msg(f"冷却 {cooldown}", f"cooldown {cooldown}"))
    return msg("动作: ", "actions: ") + msg("；", "; ").join(parts)


def _listed(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)

