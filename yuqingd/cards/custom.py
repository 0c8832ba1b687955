"""An operator's own card texts: a YAML file shaped like ``zh.yaml`` holding only what it
changes (a kind's ``label``/``lead``/``color``/``body``, a word, a severity's name), merged over
the packaged texts of the channel's language. Checked whole when the channel is built, every
problem listed, so a typo fails at start or reload (which keeps what runs), never at send."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import jinja2
import structlog
import yaml
from pydantic import BaseModel, ValidationInfo, field_validator

from yuqingd.located import did_you_mean
from yuqingd.model import Action, Due, Notification, NotifiedItem, Recipient
from yuqingd.schema_types import STRICT

from . import Lang, _card, _environment, _texts

log = structlog.get_logger("yuqingd.cards")

SECTIONS = ("words", "kinds", "severities", "deadlines", "actions")
KIND_FIELDS = ("label", "lead", "color", "body")
BODIES = ("fields", "text", "lines")
# Feishu card header templates.
COLORS = ("blue", "wathet", "turquoise", "green", "yellow", "orange", "red", "carmine",
          "violet", "purple", "indigo", "grey")


class CardOptions(BaseModel):
    """The options every card-sending channel has."""

    model_config = STRICT
    lang: Literal["zh", "en"] = "zh"  # the card's language
    templates: str = ""  # a YAML file of the operator's texts, relative to the config's folder

    @field_validator("templates")
    @classmethod
    def _templates_load(cls, value: str, info: ValidationInfo) -> str:
        # With the config's folder known (load_config, yuqingd check) the file is checked
        # here, so its mistakes are listed at this line with the config's other errors.
        base = (info.context or {}).get("base_dir")
        if value and base is not None:
            path = Path(value) if Path(value).is_absolute() else Path(base) / value
            load_texts(info.data.get("lang", "zh"), path)
        return value


class ChannelTexts:
    """A channel's texts (None: the packaged ones). Like a secret file, the templates file is
    re-read when it changes, so an edit applies at the next send; an edit with mistakes keeps
    the texts in use (logged — ``yuqingd check`` lists them)."""

    def __init__(self, options: CardOptions, base_dir: Path | None):
        self.lang: Lang = options.lang
        self.path: Path | None = None
        self._stamp: tuple[int, int] | None = None
        self._texts: dict[str, Any] | None = None
        if options.templates:
            path = Path(options.templates)
            if not path.is_absolute() and base_dir is not None:
                path = Path(base_dir) / path
            self.path = path
            self._stamp = _stamp(path)
            self._texts = load_texts(self.lang, path)  # a mistake: the channel is not built

    def get(self) -> dict[str, Any] | None:
        if self.path is None:
            return None
        stamp = _stamp(self.path)
        if stamp is not None and stamp != self._stamp:
            self._stamp = stamp
            try:
                self._texts = load_texts(self.lang, self.path)
                log.info("card.templates_loaded", path=str(self.path))
            except ValueError as exc:
                log.error("card.templates_refused", path=str(self.path), error=str(exc))
        return self._texts


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        status = path.stat()
    except OSError:
        return None  # gone for now (being replaced): keep what is in use
    return status.st_mtime_ns, status.st_size


def load_texts(lang: Lang, path: Path) -> dict[str, Any]:
    """The packaged texts of ``lang`` with ``path``'s changes; ValueError listing every
    problem of the file."""
    try:
        changes = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"模板文件 {path} 无法读取: {exc}") from exc
    base = _texts(lang)
    merged = {section: dict(base.get(section, {})) for section in SECTIONS}
    merged["kinds"] = {k: dict(v) for k, v in base["kinds"].items()}
    problems: list[str] = []
    if not isinstance(changes, dict):
        raise ValueError(f"模板文件 {path}：应为一个映射（words、kinds …）")
    for section, value in changes.items():
        if section not in SECTIONS:
            problems.append(f"未知的部分 '{section}'{did_you_mean(section, SECTIONS)}")
        elif not isinstance(value, dict):
            problems.append(f"{section}：应为一个映射")
        elif section == "kinds":
            _merge_kinds(value, merged["kinds"], problems)
        else:
            for key, text in value.items():
                if section == "words" and key not in base["words"]:
                    problems.append(f"words.{key}：未知的词{did_you_mean(key, base['words'])}")
                elif not isinstance(text, str):
                    problems.append(f"{section}.{key}：应为文字")
                else:
                    merged[section][key] = text
    if not problems:
        problems += _rendering_problems(lang, merged)
    if problems:
        raise ValueError(f"模板文件 {path}：" + "；".join(problems))
    return merged


def _merge_kinds(value: dict[Any, Any], kinds: dict[str, dict[str, str]],
                 problems: list[str]) -> None:
    for kind, entry in value.items():
        if not isinstance(entry, dict):
            problems.append(f"kinds.{kind}：应为一个映射（label、lead、color、body）")
            continue
        merged = dict(kinds.get(str(kind), kinds["default"]))
        for field, text in entry.items():
            where = f"kinds.{kind}.{field}"
            if field not in KIND_FIELDS:
                problems.append(f"{where}：未知的字段{did_you_mean(field, KIND_FIELDS)}")
            elif not isinstance(text, str):
                problems.append(f"{where}：应为文字")
            elif field == "body" and text not in BODIES:
                problems.append(f"{where}：应为 {'、'.join(BODIES)} 之一")
            elif field == "color" and text not in COLORS:
                problems.append(f"{where}：飞书标题颜色应为 {'、'.join(COLORS)} 之一"
                                f"{did_you_mean(text, COLORS)}")
            else:
                merged[field] = text
        kinds[str(kind)] = merged


def _rendering_problems(lang: Lang, texts: dict[str, Any]) -> list[str]:
    """Render a sample of every kind, so a broken Jinja expression shows now."""
    env = _environment()
    problems = []
    for key in ("title", "level", "due", "time", "aside"):
        try:
            env.from_string(texts["words"][key])
        except jinja2.TemplateError as exc:
            problems.append(f"words.{key}：模板出错（{type(exc).__name__}: {exc}）")
    for name in texts["kinds"] if not problems else ():
        try:
            shown = _card(_sample(name), lang, None, texts)
            shown.markdown()
            shown.text()
            shown.html()
        except jinja2.TemplateError as exc:
            problems.append(f"kinds.{name}：模板出错（{type(exc).__name__}: {exc}）")
    return problems


def _sample(kind: str) -> Notification:
    return Notification(
        id="sample", kind=kind, channel="c", incident="20260512-001", rule="r",
        title="示例", severity="较大", level=2, to=(Recipient("值班员", "张三"),),
        at="2026-05-12T14:00:00+08:00", text="示例正文",
        items=(NotifiedItem("示例信息", "https://example.org/1", "微博",
                            "2026-05-12T13:50:00+08:00"),),
        deadlines=(Due("ack", "确认", "2026-05-12T14:30:00+08:00"),),
        actions=(Action("ack", "确认", "yuqingd ack 20260512-001 --by 张三"),), key="某中学")
