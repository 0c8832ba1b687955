"""The command line in Chinese: argparse's own messages, and the help of every command.

Help texts are written in English beside the options they describe (yuqingd/cli.py,
yuqingd/commands/); :data:`HELP_ZH` gives each its Chinese, and :func:`localize` puts it in place
when messages are Chinese (the default). tests/test_cli_language.py checks that every help text
of every subcommand has its Chinese here, so a new option cannot stay English-only.

argparse builds its messages with gettext, but Python ships no Chinese catalogue for it; its
module-level ``_``/``ngettext`` are swapped for the table below (and back, for ``--lang en``).
Only what a person can meet is translated: usage, errors about their arguments, headings —
not the errors a programmer gets for a malformed parser.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

ARGPARSE_ZH = {
    "usage: ": "用法: ",
    "positional arguments": "位置参数",
    "options": "选项",
    "subcommands": "子命令",
    "%(heading)s:": "%(heading)s：",
    " (default: %(default)s)": "（默认: %(default)s）",
    "show this help message and exit": "显示本帮助并退出",
    "show program's version number and exit": "显示版本号并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s: 错误: %(message)s\n",
    "%(prog)s: warning: %(message)s\n": "%(prog)s: 警告: %(message)s\n",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s: %(message)s",
    "the following arguments are required: %s": "缺少必需的参数: %s",
    "one of the arguments %s is required": "必须给出以下参数之一: %s",
    "unrecognized arguments: %s": "无法识别的参数: %s",
    "invalid choice: %(value)r (choose from %(choices)s)":
        "无效的选项值 %(value)r（可选: %(choices)s）",
    "invalid %(type)s value: %(value)r": "%(type)s 值无效: %(value)r",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多只能有一个值",
    "expected at least one argument": "至少需要一个值",
    "not allowed with argument %s": "不能与参数 %s 同时使用",
    "ambiguous option: %(option)s could match %(matches)s":
        "选项不明确: %(option)s 可能是 %(matches)s",
    "ignored explicit argument %r": "忽略了多余的值 %r",
    "unexpected option string: %s": "意外的选项: %s",
    "unknown parser %(parser_name)r (choices: %(choices)s)":
        "未知的子命令 %(parser_name)r（可选: %(choices)s）",
    "can't open '%(filename)s': %(error)s": "无法打开 '%(filename)s': %(error)s",
    "option '%(option)s' is deprecated": "选项 '%(option)s' 已弃用",
    "argument '%(argument_name)s' is deprecated": "参数 '%(argument_name)s' 已弃用",
    "command '%(parser_name)s' is deprecated": "命令 '%(parser_name)s' 已弃用",
}
# ngettext's (singular, plural) → Chinese, which has one form.
ARGPARSE_NZH = {
    ("expected %s argument", "expected %s arguments"): "需要 %s 个值",
}

HELP_ZH = {
    # yuqingd and its shared options
    "public-opinion monitoring and escalation daemon": "舆情监测与升级守护进程",
    "show the version and exit": "显示版本并退出",
    "language of messages (default: Chinese; English with LANG=en*)":
        "提示信息的语言（默认中文；LANG=en* 时为英文）",
    "config file (default: $YUQINGD_CONFIG or /etc/yuqingd/yuqingd.yaml)":
        "配置文件（默认: $YUQINGD_CONFIG 或 /etc/yuqingd/yuqingd.yaml）",
    "control socket (default: from the config)": "控制套接字（默认: 取自配置）",
    # the service
    "run the daemon in the foreground": "在前台运行守护进程",
    "validate config, rules and plugin sections": "检查配置、规则和插件设置",
    "list plugins with versions and kinds; those disabled or quarantined":
        "列出插件及其版本和类型，以及被停用或隔离的插件",
    "take a plugin out of quarantine (after it blocked the event loop)":
        "解除插件隔离（它曾阻塞事件循环）",
    "the plugin's name, as `yuqingd plugins` lists it": "插件名称（同 `yuqingd plugins` 所列）",
    "reload config and rules, wait for the result": "重新加载配置和规则，并等待结果",
    "ask the running daemon for its status": "查询运行中服务的状态",
    "list the running daemon's sources: state, last item, errors, next poll":
        "列出运行中服务的信息源：状态、最新信息、错误、下次抓取时间",
    "bring the state database to this version's schema (daemon stopped)":
        "将状态数据库升级到本版本的结构（须先停止服务）",
    # rule tools
    "print the JSON Schema of rule files or of the config (for editors)":
        "输出规则文件或配置的 JSON Schema（供编辑器使用）",
    "rules (a rule file, default) or config (with installed kinds)":
        "rules（规则文件，默认）或 config（含已安装的类型）",
    "write to FILE instead of stdout": "写入文件 FILE，而不是标准输出",
    "show why an item matches each rule, or does not": "说明一条信息为何命中或未命中各条规则",
    "one item as a JSON object (the fields of a simulate input line)":
        "一条信息，JSON 对象（字段同 simulate 输入行）",
    "what the pipeline makes of each item of a sample, one JSON line each":
        "分析信息样本：每条输出一行 JSON（监测对象、主题、情感及其依据、严重程度、报道）",
    "Analyse each item of a sample as the daemon does (nothing stored, no rule run); the output "
    "format is in docs/analyze.md.":
        "按守护进程的方式分析样本中的每条信息，不存储、不运行规则；输出格式见 docs/analyze.md。",
    "JSONL sample, one item per line (simulate's item fields); - for stdin":
        "样本文件，每行一个 JSON 信息（字段同 simulate 输入行）；- 为标准输入",
    "run the rules over a recorded stream on a simulated clock (JSONL out)":
        "在模拟时钟上对录制的信息流运行规则（输出 JSONL）",
    "input JSONL: items and actions ordered by 'at'": "输入 JSONL：按 at 排序的信息和操作",
    "stop at this ISO 8601 time (default: last line + 24h)":
        "在此 ISO 8601 时间停止（默认: 最后一行之后 24 小时）",
    "run the tests written in rule files on a simulated clock": "在模拟时钟上运行规则文件中的测试",
    "rule files (default: those the config names)": "规则文件（默认: 配置中列出的）",
    # incidents
    "acknowledge an incident (stops escalation)": "确认事件（停止升级）",
    "close an incident (no more items, no more deadlines)": "关闭事件（不再归并信息，不再计时）",
    "list open and acknowledged incidents": "列出待确认和已确认的事件",
    "show one incident's full record": "显示一个事件的完整记录",
    "incident id, e.g. 20261126-001": "事件编号，例如 20261126-001",
    "incident id": "事件编号",
    "who acknowledges (name)": "确认人（姓名）",
    "who closes it (name)": "关闭人（姓名）",
    "note for the record": "备注（记入记录）",
    "why, for the record": "原因（记入记录）",
    "closed incidents too": "包括已关闭的事件",
    # duty
    "check in for your duty shift (值班签到)": "值班签到",
    "who checks in (name, as on the roster)": "签到人（姓名，同排班表）",
    "record a sub-unit's submission (报送), e.g. a county's weekly report":
        "登记下级单位的报送，例如旗县的周报",
    "the unit that submits, e.g. A旗": "报送单位，例如 A旗",
    "who records it (name)": "登记人（姓名）",
    "which submission (its name in the config); needed when several are declared":
        "哪一项报送（配置中的名称）；配置了多项时必须指明",
    "the due date it is for (YYYY-MM-DD); default: the earliest not yet submitted":
        "对应的截止日期（YYYY-MM-DD）；默认: 最早一期尚未报送的",
    "leave the handover note for this shift's duty report": "填写本班值班报告的交接事项",
    "who hands over (name)": "交班人（姓名）",
    "what the next shift must know": "下一班需要知道的事项",
    # reports
    "report an incident to superiors (report ID --stage 首报|续报|终报 --by NAME), or show a "
    "kept report (report duty --shift DATE[/班次], report weekly --week 2026-W47)":
        "向上级报告事件（report 编号 --stage 首报|续报|终报 --by 姓名），或查看已生成的报告"
        "（report duty --shift 日期[/班次]，report weekly --week 2026-W47）",
    "an incident id, or duty / weekly": "事件编号，或 duty（值班报告）/ weekly（周报）",
    "incident report stage: 首报 (first), 续报 (follow_up), 终报 (final)":
        "报告阶段：首报、续报、终报（也可写 first、follow_up、final）",
    "who reports (name)": "报告人（姓名）",
    "what was reported, for the record": "报告内容（记入记录）",
    "duty day, optionally /shift name (report duty)": "值班日期，可加 /班次名（report duty）",
    "ISO week, e.g. 2026-W47 (report weekly); default: the last full week":
        "ISO 周，例如 2026-W47（report weekly）；默认: 上一个完整的周",
    "print the HTML page": "输出 HTML 页面",
    "render from the store now instead of the kept report":
        "按当前数据重新生成，而不是显示已保存的报告",
    # watches
    "track a story, topic or entity (跟踪)": "跟踪一个报道、主题或监测对象",
    "start a watch: summaries every few hours, a closing summary":
        "开始跟踪：每隔几小时一份摘要，结束时一份总结",
    "running watches": "进行中的跟踪",
    "end a watch now (sends its closing summary)": "立即结束跟踪（发送总结）",
    "story id": "报道编号",
    "topic name": "主题名称",
    "watched name": "监测对象名称",
    "how long (default 24h)": "持续多久（默认 24h）",
    "summary interval (default 4h)": "摘要间隔（默认 4h）",
    "role that also receives the summaries (repeatable)": "同时接收摘要的角色（可重复）",
    "who starts it (receives the summaries)": "发起人（接收摘要）",
    "watch id": "跟踪编号",
    "who stops it": "结束人",
    # tokens of the HTTP API
    "bearer tokens of the HTTP API (访问令牌)": "HTTP API 的访问令牌",
    "make a token (printed once; only its hash is kept)": "生成令牌（只显示一次，仅保存其散列值）",
    "live tokens": "有效的令牌",
    "revoke a token now (its next request gets 401)": "立即吊销令牌（之后的请求得到 401）",
    "the integration or person it is for, e.g. oa-system":
        "令牌的使用方（系统或个人），例如 oa-system",
    "record its actions as this person (default: NAME)": "以此人的名义记录操作（默认: 令牌名称）",
    "revoked tokens too": "包括已吊销的令牌",
    "token id (or name), as `yuqingd token list` shows":
        "令牌编号（或名称），同 `yuqingd token list` 所列",
    # silences
    "mute a rule, key or source's notifications (静默)": "静默某条规则、分组键或信息源的通知",
    "silence for a while (never hides a 重大 incident from the leader level)":
        "静默一段时间（重大事件仍会通知到领导层级）",
    "active silences": "生效中的静默",
    "end a silence now": "立即结束静默",
    "rule id": "规则编号",
    "group key (watched name, topic, story id, source)":
        "分组键（监测对象、主题、报道编号、信息源）",
    "source name": "信息源名称",
    "how long, e.g. 2h": "持续多久，例如 2h",
    "why (kept in the record)": "原因（记入记录）",
    "who silences (name)": "静默人（姓名）",
    "silence id": "静默编号",
    "who removes it": "解除人",
}

_ENGLISH: tuple[Callable[[str], str], Callable[[str, str, int], str]] = (
    argparse._, argparse.ngettext)  # type: ignore[attr-defined]


def _zh(message: str) -> str:
    return ARGPARSE_ZH.get(message, message)


def _nzh(singular: str, plural: str, n: int) -> str:
    return ARGPARSE_NZH.get((singular, plural)) or (singular if n == 1 else plural)


def use_argparse_language(english: bool) -> None:
    """argparse's messages in Chinese, or back in English; before a parser is built (it
    translates its headings and the -h help when it is made)."""
    argparse._, argparse.ngettext = (  # type: ignore[attr-defined]
        _ENGLISH if english else (_zh, _nzh))


def _ours(action: argparse.Action) -> bool:
    """Whether ``action``'s help is yuqingd's to translate (argparse translates -h itself)."""
    return (bool(action.help) and action.help is not argparse.SUPPRESS
            and not isinstance(action, argparse._HelpAction))


def help_texts(parser: argparse.ArgumentParser) -> list[str]:
    """Every help and description text a person can see in ``parser``'s tree, in order."""
    found: list[str] = []

    def walk(p: argparse.ArgumentParser) -> None:
        if p.description:
            found.append(p.description)
        for action in p._actions:
            if _ours(action):
                found.append(str(action.help))
            if isinstance(action, argparse._SubParsersAction):
                found.extend(c.help for c in action._choices_actions if c.help)
                for sub in action.choices.values():
                    walk(sub)

    walk(parser)
    return list(dict.fromkeys(found))


def localize(parser: argparse.ArgumentParser, *, english: bool) -> None:
    """Put every help text of ``parser``'s tree in the language chosen; a subcommand's own
    ``--help`` also opens with the line that describes it in its parent's list."""
    def text(s: str) -> str:
        return s if english else HELP_ZH.get(s, s)

    def walk(p: argparse.ArgumentParser) -> None:
        if p.description:
            p.description = text(p.description)
        for action in p._actions:
            if _ours(action):
                action.help = text(str(action.help))
            if isinstance(action, argparse._SubParsersAction):
                described = {c.dest: c.help for c in action._choices_actions}
                for choice in action._choices_actions:
                    if choice.help:
                        choice.help = text(choice.help)
                for name, sub in action.choices.items():
                    if sub.description is None and described.get(name):
                        sub.description = described[name]
                    walk(sub)

    walk(parser)
