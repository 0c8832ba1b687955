"""The one reader of YAML that people write (config, rule packs, rosters, rule tests, lexicons).

Hostile or broken input is rejected as :class:`~yuqingd.located.LocatedError` at the line that
caused it, never as a traceback or a hang. Limits (documented in docs/config.md):

- a file is at most ``MAX_FILE_BYTES``; bytes that are not UTF-8 and control characters YAML does
  not allow are reported where they are;
- collections nest at most ``MAX_DEPTH`` deep (aliases count where they are expanded);
- at most ``MAX_ALIAS_VALUES`` values reached through aliases and merge keys (an alias bomb
  stops there, at the alias that crossed the limit), ``MAX_VALUES`` in all; an alias that
  contains itself is an error;
- integers fit in 64 bits and floats are finite;
- only the standard tags of plain data (``!!str``, ``!!int``, ``!!float``, ``!!bool``,
  ``!!null``, ``!!timestamp``, ``!!seq``, ``!!map``) are accepted.

Merge keys (``<<: *base``) are supported: explicit keys win over merged ones, earlier merged
mappings over later ones, and every merged value keeps the place it was written.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path

import yaml
from yaml.composer import ComposerError
from yaml.reader import Reader

from yuqingd.located import (
    ConfigError,
    FileUnreadable,
    Loc,
    LocatedDocument,
    LocatedError,
    msg,
)

# A bureau's pack with thousands of keywords is tens of KiB. The pure-Python parser takes about
# 5-15 s per MiB and a reload parses on the event loop, so the size bounds how long it may hold
# the loop (about a second or two at the limit).
MAX_FILE_BYTES = 256 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000
MAX_ALIAS_VALUES = 10_000  # sharing a chain level or a word list needs far fewer
MAX_INT = 2**63 - 1
MAX_REPORTED = 20  # control characters listed before the rest are counted

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_TAG}{t}" for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE = f"{_TAG}merge"
_SEQ = f"{_TAG}seq"
_MAP = f"{_TAG}map"


class _Rejected(Exception):
    """One located problem that stops reading the file."""

    def __init__(self, mark: yaml.Mark | tuple[int, int] | None, zh: str, en: str):
        super().__init__(en)
        if isinstance(mark, yaml.Mark):
            self.where = (mark.line + 1, mark.column + 1)
        else:
            self.where = mark or (1, 1)
        self.text = msg(zh, en)


class _Alias(yaml.Node):
    """Where an alias (``*name``) is used; composing returns this instead of the shared node."""

    def __init__(self, target: yaml.Node, anchor: str, start: yaml.Mark, end: yaml.Mark):
        super().__init__(target.tag, None, start, end)
        self.target = target
        self.anchor = anchor


class _Loader(yaml.SafeLoader):
    """The safe loader with a nesting limit while composing, aliases kept as :class:`_Alias`."""

    def __init__(self, text: str):
        super().__init__(text)
        self.depth = 0

    def fetch_flow_collection_start(self, TokenClass):  # type: ignore[no-untyped-def]  # noqa: N803
        # The scanner reads a flow collection ahead of the composer, in time that grows with the
        # square of its depth ({a: {a: … ten thousand deep took seconds): stop it here.
        if self.flow_level >= MAX_DEPTH:
            raise _Rejected(self.get_mark(),
                            f"嵌套超过 {MAX_DEPTH} 层（上限 {MAX_DEPTH}，请减少层级）",
                            f"nested deeper than {MAX_DEPTH} levels (the limit)")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}",
                                    event.start_mark)
            return _Alias(self.anchors[event.anchor], event.anchor, event.start_mark,
                          event.end_mark)
        if self.depth >= MAX_DEPTH:
            raise _Rejected(self.peek_event().start_mark,
                            f"嵌套超过 {MAX_DEPTH} 层（上限 {MAX_DEPTH}，请减少层级）",
                            f"nested deeper than {MAX_DEPTH} levels (the limit)")
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml(path: Path) -> LocatedDocument:
    """Read ``path``; raises ConfigError listing what is wrong, each at its place."""
    name = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE_BYTES + 1)
    except PermissionError as exc:
        raise FileUnreadable(LocatedError(name, 1, 1, msg(
            f"无法读取文件: 权限不足（{exc.strerror}）。请用服务用户或 yuqingd 组的成员运行，"
            "例如 sudo -u yuqingd yuqingd …",
            f"cannot read the file: {exc.strerror}. Run as the service user or a member of the "
            "yuqingd group, e.g. sudo -u yuqingd yuqingd …")), exc.errno) from exc
    except OSError as exc:
        raise FileUnreadable(LocatedError(name, 1, 1, msg(f"无法读取文件: {exc.strerror}",
                                                          str(exc))), exc.errno) from exc
    if len(raw) > MAX_FILE_BYTES:
        limit = MAX_FILE_BYTES // 1024
        line = raw[:MAX_FILE_BYTES].count(b"\n") + 1
        raise ConfigError([LocatedError(name, line, 1, msg(
            f"文件超过 {limit} KiB 的上限（请把规则拆到几个文件中；是否选错了文件？）",
            f"file is larger than the {limit} KiB limit (split it into several files)"))])
    text = decode(raw, name)
    return parse_text(text, path)


def decode(raw: bytes, name: str) -> str:
    """``raw`` as UTF-8 text, or ConfigError at the line and column of the first bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        byte = raw[exc.start]
        raise ConfigError([LocatedError(name, line, col, msg(
            f"不是 UTF-8 编码的字节 0x{byte:02x}（请把文件另存为 UTF-8）",
            f"byte 0x{byte:02x} is not UTF-8 (save the file as UTF-8)"))]) from None


def parse_text(text: str, path: Path) -> LocatedDocument:
    """Parse ``text`` (the contents of ``path``) into a located document."""
    name = str(path)
    _reject_control_characters(text, name)
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except _Rejected as exc:
        raise ConfigError([LocatedError(name, *exc.where, exc.text)]) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_errors(exc, text, name)) from None
    except yaml.YAMLError as exc:  # unmarked: only the reader's, which the scan above prevents
        raise ConfigError([LocatedError(name, 1, 1, msg(f"YAML 错误: {exc}", str(exc)))]) from None
    doc = LocatedDocument(path, None, {}, {})
    if node is None:
        doc.value_marks[()] = (1, 1)
        return doc
    converter = _Converter(loader, doc)
    try:
        doc.data = converter.value(node, (), 0)
    except _Rejected as exc:
        converter.errors.append(LocatedError(name, *exc.where, exc.text))
    if converter.errors:
        raise ConfigError(converter.errors)
    return doc


def _reject_control_characters(text: str, name: str) -> None:
    errors = []
    found = 0
    for match in Reader.NON_PRINTABLE.finditer(text):
        found += 1
        if found > MAX_REPORTED:
            continue
        start = match.start()
        line = text.count("\n", 0, start) + 1
        col = start - (text.rfind("\n", 0, start) + 1) + 1
        code = f"U+{ord(match.group()):04X}"
        errors.append(LocatedError(name, line, col, msg(
            f"YAML 不允许的控制字符 {code}（请删除它；要写特殊字符请用带引号的 \\u 转义）",
            f"control character {code} is not allowed in YAML (delete it)")))
    if found > MAX_REPORTED:
        errors.append(LocatedError(name, errors[-1].line, errors[-1].col, msg(
            f"另有 {found - MAX_REPORTED} 个控制字符未列出",
            f"{found - MAX_REPORTED} more control characters not listed")))
    if errors:
        raise ConfigError(errors)


# The parser's messages people meet most, in Chinese with what usually fixes them.
_SYNTAX_ZH = (
    ("mapping values are not allowed here",
     "此处不能出现 'key: value'（上一行缺少冒号或引号，或缩进不对？含冒号的文字请加引号）"),
    ("found character '\\t' that cannot start any token", "不能用制表符缩进（请改用空格）"),
    ("found undefined alias", "未定义的别名（先用 &名字 定义锚点，再用 *名字 引用）"),
    ("found duplicate anchor", "锚点名重复（每个 &名字 只能定义一次）"),
    ("expected a single document", "一个文件只能有一个 YAML 文档（删除多余的 ---）"),
    ("could not find expected ':'", "缺少冒号 ':'（或引号没有闭合）"),
    ("found unexpected end of stream", "文件意外结束（引号或括号没有闭合？）"),
    ("expected <block end>", "缩进不一致（同一层的项目应当对齐）"),
    ("expected '<document start>'",
     "顶层缩进不一致（顶层字段应从行首写起，文件开头的字段是否缩进了？）"),
    ("did not find expected key", "缩进不一致，或少了 '- '"),
    ("did not find expected '-' indicator", "列表项缩进不一致（每项以对齐的 '- ' 开头）"),
    ("found unknown escape character", "引号内有无效的转义（反斜杠 \\ 请写成 \\\\，或改用单引号）"),
    ("expected ',' or ']'", "列表 [ ] 中缺少逗号或 ]"),
    ("expected ',' or '}'", "映射 { } 中缺少逗号或 }"),
)


def _syntax_errors(exc: yaml.MarkedYAMLError, text: str, name: str) -> list[LocatedError]:
    """Where the parser stopped and, after an indentation problem, the line the offending one
    was meant to sit under: a wrongly indented or moved line often breaks the parse only lines
    later, and the line that opens the block around it is where to look."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    errors = [LocatedError(name, line, col, _syntax_message(exc))]
    parent = _parent_line(text, line - 1, col - 1) if exc.problem_mark else None
    if parent is None and (exc.problem or "").startswith("expected '<document start>'"):
        parent = _first_content_line(text)  # the top level began indented: its first line
    parent_col = 0
    if parent is None and exc.context_mark and exc.context_mark.line + 1 != line:
        parent, parent_col = exc.context_mark.line, exc.context_mark.column
    if parent is not None and parent + 1 != line:
        errors.append(LocatedError(name, parent + 1, parent_col + 1, msg(
            f"（第 {line} 行的语法错误：它所在的块从这一行开始，请检查两行之间的缩进）",
            f"(the syntax error of line {line} is in the block that starts here: check the "
            "indentation between the two)")))
    return errors


def _first_content_line(text: str) -> int | None:
    for j, line in enumerate(text.split("\n")):
        body = line.strip()
        if body and not body.startswith("#") and not body.startswith("---"):
            return j
    return None


def _parent_line(text: str, index: int, col: int) -> int | None:
    """The nearest line above ``index`` indented less than ``col`` (comments and blanks aside)."""
    if col <= 0:
        return None
    lines = text.split("\n")
    for j in range(min(index, len(lines)) - 1, -1, -1):
        body = lines[j].lstrip(" ")
        if body and not body.startswith("#") and len(lines[j]) - len(body) < col:
            return j
    return None


def _syntax_message(exc: yaml.MarkedYAMLError) -> str:
    problem = exc.problem or exc.context or "YAML error"
    for english_text, chinese in _SYNTAX_ZH:
        if problem.startswith(english_text) or (exc.context or "").startswith(english_text):
            return msg(f"YAML 语法错误: {chinese}", problem)
    return msg(f"YAML 语法错误: {problem}", problem)


class _Converter:
    """Nodes → plain data, recording the place of every key and value; enforces the limits."""

    def __init__(self, loader: _Loader, doc: LocatedDocument):
        self.loader = loader
        self.doc = doc
        self.name = str(doc.path)
        self.errors: list[LocatedError] = []
        self.values = 0
        self.alias_values = 0
        self.expanding: list[yaml.Node] = []  # alias targets being expanded (cycle check)
        self.used_at: list[yaml.Mark] = []  # …and where each alias is written

    def value(self, node: yaml.Node, loc: Loc, depth: int) -> typing.Any:
        self.values += 1
        if self.used_at:
            self.alias_values += 1
        if self.values > MAX_VALUES or self.alias_values > MAX_ALIAS_VALUES:
            # The outermost alias being expanded is the line that asked for all of it.
            where = self.used_at[0] if self.used_at else node.start_mark
            if self.values > MAX_VALUES:
                raise _Rejected(where, f"值的个数超过 {MAX_VALUES}（上限；请把文件拆小）",
                                f"more than {MAX_VALUES} values (the limit)")
            raise _Rejected(where, f"别名展开出超过 {MAX_ALIAS_VALUES} 个值（上限），"
                            "可能是“别名炸弹”（请少用嵌套别名）",
                            f"aliases expand to more than {MAX_ALIAS_VALUES} values (the limit)")
        if depth > MAX_DEPTH:
            raise _Rejected(self.used_at[0] if self.used_at else node.start_mark,
                            f"别名展开后嵌套超过 {MAX_DEPTH} 层（上限 {MAX_DEPTH}）",
                            f"nested deeper than {MAX_DEPTH} levels once aliases are expanded")
        self.doc.value_marks[loc] = _mark(node)
        if isinstance(node, _Alias):
            target = node.target
            if any(t is target for t in self.expanding):
                raise _Rejected(node.start_mark, f"别名 '*{node.anchor}' 引用了包含它自己的值"
                                "（循环引用）", f"alias '*{node.anchor}' refers to itself")
            self.expanding.append(target)
            self.used_at.append(node.start_mark)
            try:
                out = self._node(target, loc, depth)
            finally:
                self.expanding.pop()
                self.used_at.pop()
            self.doc.value_marks[loc] = _mark(node)  # the whole value: where the alias is used
            return out
        return self._node(node, loc, depth)

    def _node(self, node: yaml.Node, loc: Loc, depth: int) -> typing.Any:
        if isinstance(node, yaml.MappingNode):
            self._tag(node, _MAP)
            out: dict = {}
            for key_node, key, value_node in self._pairs(node, []):
                self.doc.key_marks[(*loc, key)] = _mark(key_node)
                out[key] = self.value(value_node, (*loc, key), depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            self._tag(node, _SEQ)
            return [self.value(child, (*loc, i), depth + 1) for i, child in enumerate(node.value)]
        return self._scalar(node)

    def _tag(self, node: yaml.Node, expected: str) -> None:
        if node.tag != expected:
            raise self._unknown_tag(node)

    def _unknown_tag(self, node: yaml.Node) -> _Rejected:
        tag = node.tag.replace(_TAG, "!!")
        return _Rejected(node.start_mark, f"不支持的标签 '{tag}'（删除它；若要写文字请加引号）",
                         f"unsupported tag '{tag}' (remove it; quote the text if it is a string)")

    def _scalar(self, node: yaml.Node) -> typing.Any:
        if node.tag not in _SCALAR_TAGS:
            raise self._unknown_tag(node)
        try:
            value = self.loader.construct_object(node)
        except Exception as exc:  # !!int abc, 2026-02-30, digits beyond Python's limit
            kind = node.tag.replace(_TAG, "")
            raise _Rejected(node.start_mark, f"无法读作 {kind} 的值 {_short(node.value)}",
                            f"cannot read {_short(node.value)} as {kind}: {exc}") from None
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise _Rejected(node.start_mark, f"数值 {_short(node.value)} 超出范围"
                            f"（整数的绝对值不能超过 {MAX_INT}）",
                            f"number {_short(node.value)} is out of range (at most {MAX_INT})")
        if isinstance(value, float) and not math.isfinite(value):
            raise _Rejected(node.start_mark, f"数值 {_short(node.value)} 不是有限数（超出范围）",
                            f"number {_short(node.value)} is not finite")
        return value

    def _key(self, node: yaml.Node) -> typing.Any:
        if isinstance(node, _Alias):
            node = node.target
        if not isinstance(node, yaml.ScalarNode):
            raise _Rejected(node.start_mark, "映射的键应为简单的文字或数字，不能是列表或映射",
                            "a mapping key must be a plain value, not a list or mapping")
        key = self._scalar(node)
        return key if isinstance(key, str | int | float | bool) else str(key)

    def _pairs(self, node: yaml.MappingNode, merging: list[yaml.Node]
               ) -> list[tuple[yaml.Node, typing.Any, yaml.Node]]:
        """(key node, key, value node) of ``node``: its own keys, then those merged in."""
        own: list[tuple[yaml.Node, typing.Any, yaml.Node]] = []
        merged: list[tuple[yaml.Node, typing.Any, yaml.Node]] = []
        seen: set = set()
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged += self._merged(value_node, merging + [node])
                continue
            key = self._key(key_node)
            if key in seen:
                self.errors.append(LocatedError(self.name, *_mark(key_node), msg(
                    f"重复的字段 '{key}'", f"duplicate key '{key}'")))
                continue
            seen.add(key)
            own.append((key_node, key, value_node))
        for key_node, key, value_node in merged:
            if key not in seen:  # explicit keys win, then the first mapping merged
                seen.add(key)
                own.append((key_node, key, value_node))
        return own

    def _merged(self, value: yaml.Node, merging: list[yaml.Node]
                ) -> list[tuple[yaml.Node, typing.Any, yaml.Node]]:
        sources = value.target.value if isinstance(value, _Alias) and isinstance(
            value.target, yaml.SequenceNode) else value.value if isinstance(
            value, yaml.SequenceNode) else [value]
        out = []
        for source in sources:
            mapping = source.target if isinstance(source, _Alias) else source
            if not isinstance(mapping, yaml.MappingNode):
                raise _Rejected(source.start_mark, "合并键 '<<' 的值应为映射的别名（如 <<: *base）",
                                "a merge key '<<' takes an alias of a mapping (<<: *base)")
            if len(merging) > MAX_DEPTH:
                raise _Rejected(source.start_mark, f"合并键 '<<' 嵌套超过 {MAX_DEPTH} 层（上限）",
                                f"merge keys nested deeper than {MAX_DEPTH} levels")
            if any(m is mapping for m in merging):
                raise _Rejected(source.start_mark, "合并键 '<<' 合并了包含它自己的映射（循环引用）",
                                "merge key '<<' merges a mapping that contains it")
            self.alias_values += len(mapping.value)
            if self.alias_values > MAX_ALIAS_VALUES:
                raise _Rejected(source.start_mark,
                                f"合并键展开出超过 {MAX_ALIAS_VALUES} 个值（上限）",
                                f"merge keys expand to more than {MAX_ALIAS_VALUES} values")
            out += self._pairs(mapping, merging)
        return out


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _short(text: typing.Any) -> str:
    text = str(text)
    return repr(text if len(text) <= 40 else text[:37] + "…")
