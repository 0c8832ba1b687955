"""YAML loading that remembers where every value came from, and errors that say so.

Every problem found in a config or rule file becomes a :class:`LocatedError` printed as
``FILE:LINE:COL: message``. Messages are Chinese first; ``LANG=en*`` switches them to English.
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pydantic

Loc = tuple[str | int, ...]


LANGUAGE_ENV = "YUQINGD_LANG"  # set by `yuqingd --lang`; wins over LC_ALL/LANG


def english() -> bool:
    """Whether messages for people should be English (``--lang en``, or LANG/LC_ALL en*)."""
    lang = (os.environ.get(LANGUAGE_ENV) or os.environ.get("LC_ALL") or os.environ.get("LANG")
            or "")
    return lang.startswith("en")


def msg(zh: str, en: str) -> str:
    return en if english() else zh


@dataclass(frozen=True, order=True)
class LocatedError:
    file: str
    line: int  # 1-based
    col: int  # 1-based
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class ConfigError(Exception):
    """A config or rule file was rejected; carries every error found, sorted by place."""

    def __init__(self, errors: Iterable[LocatedError]):
        self.errors = sorted(set(errors))
        super().__init__("\n".join(str(e) for e in self.errors))


class FileUnreadable(ConfigError):
    """The file could not be read at all (missing, no permission): an operational problem for
    whoever runs the command, not an error in the config — the CLI says so, and exits 77
    (EX_NOPERM) or 66 (EX_NOINPUT) rather than 78."""

    def __init__(self, error: LocatedError, errno: int | None):
        super().__init__([error])
        self.errno = errno


@dataclass
class LocatedDocument:
    """A parsed YAML file with the (line, col) of every key and value, by path."""

    path: Path
    data: typing.Any
    value_marks: dict[Loc, tuple[int, int]]
    key_marks: dict[Loc, tuple[int, int]]

    def at(self, loc: Loc, message: str, *, key: bool = False) -> LocatedError:
        """An error at ``loc``, or at the nearest enclosing place that exists in the file."""
        marks = self.key_marks if key else self.value_marks
        probe = tuple(loc)
        while probe:
            if probe in marks:
                line, col = marks[probe]
                return LocatedError(str(self.path), line, col, message)
            if probe in self.value_marks:
                line, col = self.value_marks[probe]
                return LocatedError(str(self.path), line, col, message)
            probe = probe[:-1]
        line, col = self.value_marks.get((), (1, 1))
        return LocatedError(str(self.path), line, col, message)


def load_yaml(path: Path) -> LocatedDocument:
    """Parse ``path`` with the hardened reader (yuqingd.yaml_reader), keeping marks; raises
    ConfigError, located, on anything wrong with it."""
    from yuqingd.yaml_reader import read_yaml  # it builds on this module's types

    return read_yaml(Path(path))


M = typing.TypeVar("M", bound=pydantic.BaseModel)


def validate(model: type[M], data: typing.Any, doc: LocatedDocument, errors: list[LocatedError],
             prefix: Loc = (), *, context: dict | None = None) -> M | None:
    """``model`` validated from ``data`` (found at ``prefix`` in ``doc``), or None with located
    errors added. A validator that raises anything but ValueError (a bug, or a plugin's) is a
    located error at ``prefix`` too, never a traceback."""
    try:
        return model.model_validate(data, context=context)
    except pydantic.ValidationError as exc:
        errors.extend(validation_errors(exc, doc, model, prefix))
    except Exception as exc:
        errors.append(doc.at(prefix, msg(
            f"无法校验此处（{model.__name__} 的校验出错: {type(exc).__name__}: {exc}）",
            f"cannot validate this ({model.__name__} failed: {type(exc).__name__}: {exc})")))
    return None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A '（是否想写 'x'？）' hint for the closest candidate, or ''."""
    close = difflib.get_close_matches(str(word), [str(c) for c in candidates], n=1, cutoff=0.5)
    if not close:
        return ""
    return msg(f"（是否想写 '{close[0]}'？）", f" (did you mean '{close[0]}'?)")


def validation_errors(
    exc: pydantic.ValidationError,
    doc: LocatedDocument,
    model: type[pydantic.BaseModel],
    prefix: Loc = (),
) -> list[LocatedError]:
    """Translate pydantic's errors into located, human messages."""
    out = []
    data = doc.data
    for part in prefix:
        data = _child(data, part)
    for err in exc.errors(include_url=False):
        kind = err["type"]
        raw = tuple(err["loc"])
        if kind == "missing" and raw:
            loc = (*_clean_loc(raw[:-1], data), raw[-1])
        else:
            loc = _clean_loc(raw, data)
        where = (*prefix, *loc)
        if kind == "extra_forbidden":
            field = loc[-1] if loc else (raw[-1] if raw else "?")
            allowed = allowed_fields(model, loc[:-1])
            text = msg(f"未知字段 '{field}'", f"unknown field '{field}'") + did_you_mean(
                str(field), allowed
            )
            out.append(doc.at(where, text, key=True))
        elif kind == "missing":
            out.append(
                doc.at(
                    where[:-1],
                    msg(f"缺少必填字段 '{loc[-1]}'", f"missing required field '{loc[-1]}'"),
                )
            )
        else:
            out.append(doc.at(where, _message(err)))
    return out


_MISSING = object()


def _child(data: typing.Any, part: typing.Any) -> typing.Any:
    if isinstance(data, dict):
        return data.get(part, _MISSING)
    if isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
        return data[part]
    return _MISSING


def _clean_loc(loc: Sequence, data: typing.Any) -> Loc:
    """``loc`` without pydantic's own parts (union members such as 'list[str]', validator tags
    such as 'function-after[...]', '[key]'): a part is kept when it is a key or index of the
    data being validated, so a user's key such as 'st[affing' or 'union_x' stays."""
    out = []
    for part in loc:
        child = _child(data, part)
        if child is _MISSING:
            continue
        out.append(part)
        data = child
    return tuple(out)


_ZH_MESSAGES = {
    "string_type": "应为字符串",
    "int_type": "应为整数",
    "int_parsing": "应为整数",
    "float_type": "应为数字",
    "float_parsing": "应为数字",
    "bool_type": "应为 true 或 false",
    "bool_parsing": "应为 true 或 false",
    "list_type": "应为列表",
    "dict_type": "应为映射（key: value）",
    "model_type": "应为映射（key: value）",
    "model_attributes_type": "应为映射（key: value）",
    "greater_than_equal": "数值过小",
    "greater_than": "数值过小",
    "string_too_short": "不能为空",
    "too_short": "不能为空",
}


def _message(err: dict) -> str:
    kind = err["type"]
    if kind == "value_error":
        # Our validators raise ValueError with a Chinese message already.
        return str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        got = err.get("input")
        return msg(
            f"取值 {got!r} 无效，可选: {expected}", f"invalid value {got!r}, expected {expected}"
        )
    if english() or kind not in _ZH_MESSAGES:
        return err["msg"]
    return _ZH_MESSAGES[kind]


def allowed_fields(model: type[pydantic.BaseModel], loc: Loc) -> list[str]:
    """Field names (aliases when set) of the sub-model reached from ``model`` along ``loc``."""
    current: typing.Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
            field = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            origin = typing.get_origin(current)
            if origin in (list, tuple, Sequence) and args:
                current = args[0]
            elif origin is dict and len(args) == 2:
                current = args[1]
            else:
                return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, pydantic.BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(tp: typing.Any) -> typing.Any:
    """Strip Annotated and Optional/Union-with-one-model down to the model or container."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
            continue
        if origin in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(models) == 1:
                tp = models[0]
                continue
        return tp
