"""JSON Schema (draft 2020-12) of rule files and of the config, for editors.

Both are generated from the pydantic models the loader validates with (``RuleFile``,
``ConfigFile`` and each installed plugin kind's options model), never written by hand. The
config schema describes each ``sources:``/``notifiers:`` entry as ``{name, kind, …options of that
kind…}``, one alternative per installed kind, so ``kind: rss`` completes the RSS options.
Cross-checks (an undefined list, chain or role; exactly one of ``count``/``spike``…) are beyond a
schema: ``yuqingd check`` remains the authority.

Using it in VS Code (the Red Hat YAML extension)::

    yuqingd schema rules  --output .vscode/yuqingd-rules.schema.json
    yuqingd schema config --output .vscode/yuqingd-config.schema.json

then either put a comment on the first line of a file, the path relative to that file::

    # yaml-language-server: $schema=../.vscode/yuqingd-rules.schema.json

or map files to schemas once in ``.vscode/settings.json``::

    "yaml.schemas": {
        ".vscode/yuqingd-rules.schema.json": ["rules/*.yaml"],
        ".vscode/yuqingd-config.schema.json": ["etc/**/yuqingd.yaml"]
    }

Regenerate the config schema after installing or upgrading a plugin: it lists the kinds installed.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

import pydantic
from pydantic import BaseModel, Field
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import core_schema

from yuqingd.config import ConfigFile, NotifierEntry, PluginEntry
from yuqingd.plugins import Plugins
from yuqingd.rules.model import RuleFile
from yuqingd.schema_types import NonEmptyStr
from yuqingd.time.durations import parse_duration

DIALECT = "https://json-schema.org/draft/2020-12/schema"
RULES_ID = "urn:yuqingd:schema:rule-file"
CONFIG_ID = "urn:yuqingd:schema:config"

# What parse_duration accepts as text: "30s", "15m", "1h30m", "2d", "1.5h", spaces allowed.
DURATION_PATTERN = r"^ *(?:[0-9]+(?:\.[0-9]+)? *[smhdw] *)+$"
_DURATION_TEXT = "时长：秒数，或 30s、15m、1h30m、2d（duration: seconds, or 30s, 15m, 1h30m, 2d)"

# pydantic writes a bound it cannot push into the inner type (``Field(gt=0)`` on a validated
# duration) under its own name; JSON Schema calls these:
_BOUNDS = {"gt": "exclusiveMinimum", "ge": "minimum", "lt": "exclusiveMaximum", "le": "maximum"}


class _Generator(GenerateJsonSchema):
    """pydantic's generator, told that a duration is a number or a text like ``1h30m``."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema):
        if schema["function"]["function"] is parse_duration:
            return {
                "anyOf": [
                    {"type": "number", "minimum": 0},
                    {"type": "string", "pattern": DURATION_PATTERN},
                ],
                "description": _DURATION_TEXT,
                "examples": ["30s", "15m", "1h30m", "2d"],
            }
        return super().function_before_schema(schema)

    def generate_inner(self, schema):
        out = super().generate_inner(schema)
        updates = (schema.get("metadata") or {}).get("pydantic_js_updates") or {}
        for name, keyword in _BOUNDS.items():
            if name in updates and name in out and out[name] == updates[name]:
                out[keyword] = out.pop(name)
        return out


def _schema_of(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema(
        by_alias=True, mode="validation", schema_generator=_Generator
    )


def _document(schema: dict[str, Any], *, id_: str, title: str, description: str) -> dict:
    """``schema`` with the document keywords first, as editors show them."""
    head = {"$schema": DIALECT, "$id": id_, "title": title, "description": description}
    return head | {k: v for k, v in schema.items() if k not in head}


def rules_schema() -> dict[str, Any]:
    """The JSON Schema of one rule file (``RuleFile``)."""
    return _document(
        _schema_of(RuleFile),
        id_=RULES_ID,
        title="yuqingd 规则文件 (rule file)",
        description=(
            "监测名单、列表、重点日期、升级链、规则、覆盖和测试；用 `yuqingd check` 做完整检查。"
            " Watch list, lists, key dates, chains, rules, overrides and tests; "
            "`yuqingd check` does the full check."
        ),
    )


def config_schema(plugins: Plugins) -> dict[str, Any]:
    """The JSON Schema of the daemon's config, with the options of every installed kind.

    Raises :class:`yuqingd.plugins.PluginError` when a plugin's hook fails.
    """
    source_kinds, notifier_kinds = plugins.source_kinds(), plugins.notifier_kinds()
    sources = _entries("source", source_kinds)
    notifiers = _entries("notifier", notifier_kinds)
    model = pydantic.create_model(
        "ConfigFile",
        __base__=ConfigFile,
        __doc__="yuqingd config",
        sources=(list[sources], []),  # type: ignore[valid-type]
        notifiers=(list[notifiers], []),  # type: ignore[valid-type]
    )
    return _document(
        _schema_of(model),
        id_=CONFIG_ID,
        title="yuqingd 配置文件 (config)",
        description=(
            "守护进程配置；信息源和通知渠道按已安装的类型描述。"
            " The daemon's config; sources and notifiers as the installed kinds define them. "
            f"Source kinds: {', '.join(sorted(source_kinds)) or 'none'}; "
            f"notifier kinds: {', '.join(sorted(notifier_kinds)) or 'none'}."
        ),
    )


def _entries(section: str, offered: dict[str, list[tuple[str, Any]]]) -> Any:
    """One model per kind: ``name``, ``kind`` fixed to that kind, and the kind's own options.

    The entry model subclasses the kind's options model, so it keeps its fields, validators and
    ``extra='forbid'``. With no kind installed an entry is anything named.
    """
    models = []
    core_fields: dict[str, Any] = {}
    if section == "notifier":  # the outbox's, beside every kind's options
        core_fields["rate_limit"] = (NotifierEntry.model_fields["rate_limit"].annotation,
                                     Field(None, description=(
                                         "速率上限 (rate limit), e.g. 20/min: 超出时合并为汇总")))
    for kind_name, providers in sorted(offered.items()):
        plugin, kind = providers[0]  # a clash between plugins is for `check` to report
        doc = kind.description or kind.options.__doc__ or ""
        # Last among the bases, so its fields come first: name, kind, then the options.
        head = pydantic.create_model(
            f"{section}:{kind_name}:head",
            name=(NonEmptyStr, Field(description="名称 (name), shown in logs and status")),
            kind=(Literal[kind_name], Field(description=f"类型 (kind): {kind_name}")),
            **core_fields,
        )
        models.append(
            pydantic.create_model(
                f"{section}:{kind_name}",
                __base__=(kind.options, head),
                __doc__=f"{doc} (kind '{kind_name}', plugin '{plugin}')".strip(),
            )
        )
    if not models:
        return NotifierEntry if section == "notifier" else PluginEntry
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007
