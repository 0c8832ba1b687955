"""Load and validate the daemon's config and everything it names.

The same function backs ``yuqingd check``, start-up and reload, so a file that passes ``check`` is
exactly a file the daemon accepts. Every problem is collected and reported with its location.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BaseModel, ConfigDict, Field, field_validator

from yuqingd.located import (
    ConfigError,
    LocatedDocument,
    LocatedError,
    did_you_mean,
    load_yaml,
    msg,
    validate,
)
from yuqingd.notifiers import NotifierKind, NotifierSpec
from yuqingd.plugins import PluginError, Plugins
from yuqingd.rules.loader import Names, RuleSet, load_rules
from yuqingd.runtime.directory import Directory
from yuqingd.runtime.roster import DutySpec, Roster
from yuqingd.runtime.submissions import SubmissionSpec
from yuqingd.schema_types import (
    STRICT,
    NonEmptyStr,
    PositiveDuration,
    RateLimit,
    fallback_chain,
)
from yuqingd.sources import SourceKind, SourceSpec
from yuqingd.time.clock import DEFAULT_TIMEZONE

DEFAULT_CONFIG_PATH = Path("/etc/yuqingd/yuqingd.yaml")
CONFIG_ENV = "YUQINGD_CONFIG"
DEFAULT_STATE_DIR = "/var/lib/yuqingd"
DATABASE_NAME = "yuqingd.sqlite3"


def default_config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG_PATH)


class PluginEntry(BaseModel):
    """A ``sources:``/``notifiers:`` entry: ``name`` and ``kind`` here, the rest is the kind's."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: NonEmptyStr
    kind: NonEmptyStr


class NotifierEntry(PluginEntry):
    """A ``notifiers:`` entry: also ``rate_limit`` (the core's, not the kind's), e.g.
    ``20/min``: at most that many messages, a burst past it sent as one digest."""

    rate_limit: RateLimit | None = None


class Role(BaseModel):
    """A duty role (值班员, 办公室主任 …): who holds it and which notifiers reach them (all of
    them; with ``fallback_after``, the first, then the next once it has failed that long)."""

    model_config = STRICT
    person: NonEmptyStr
    channels: Annotated[list[NonEmptyStr], Field(min_length=1)]
    fallback_after: PositiveDuration | None = None
    _fallback_chain = field_validator("fallback_after")(fallback_chain)


class LogSettings(BaseModel):
    model_config = STRICT
    format: Literal["auto", "console", "json", "journal"] = "auto"
    level: Literal["debug", "info", "warning", "error"] = "info"


class DeliverySettings(BaseModel):
    model_config = STRICT
    timeout: PositiveDuration = 30.0  # one send() may take this long before it counts as failed
    max_backoff: PositiveDuration = 600.0


class SupervisorSettings(BaseModel):
    model_config = STRICT
    # A source that neither emits nor calls ctx.heartbeat() for this long is restarted.
    stall_after: PositiveDuration = 1800.0
    max_backoff: PositiveDuration = 300.0


def _port_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _listen_address(value: str) -> str:
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = "", value
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"监听地址应为 主机:端口 或 端口（如 127.0.0.1:8470），不是 '{value}'")
    return f"{host}:{int(port)}"


class HttpSettings(BaseModel):
    """The optional HTTP endpoint (yuqingd.http): acknowledge links, later the API and metrics."""

    model_config = STRICT
    # host:port or a bare port; host defaults to 127.0.0.1 (a reverse proxy faces the network).
    listen: Annotated[str, pydantic.BeforeValidator(_port_text),
                      pydantic.AfterValidator(_listen_address)]
    # The address people open, as the reverse proxy publishes it; default http://<listen>.
    external_url: NonEmptyStr | None = None
    # How long a signed action link stays valid.
    link_lifetime: PositiveDuration = 86400.0

    @field_validator("external_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"external_url 应以 http:// 或 https:// 开头，不是 '{value}'")
        return value.rstrip("/") if value is not None else None

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def base_url(self) -> str:
        return self.external_url or f"http://{self.listen}"


MAX_UNIT = 40  # characters of ``unit:`` (a report's title line)
DEFAULT_UNIT = "教育局"


class ConfigFile(BaseModel):
    model_config = STRICT
    timezone: NonEmptyStr = DEFAULT_TIMEZONE
    # The bureau's name, at the head of every report (值班报告, 信息周报); default 教育局.
    unit: NonEmptyStr | None = None
    # Defaults: systemd's $STATE_DIRECTORY, else /var/lib/yuqingd (see default_state_dir).
    state_dir: NonEmptyStr | None = None
    # Default: $RUNTIME_DIRECTORY/control.sock under systemd, else <state_dir>/control.sock.
    control_socket: NonEmptyStr | None = None
    rules: list[NonEmptyStr] = []
    sources: list[PluginEntry] = []
    notifiers: list[NotifierEntry] = []
    roles: dict[NonEmptyStr, Role] = {}
    # The office's role: also told the daily digest of overdue reports (yuqingd.runtime.reminders).
    office: NonEmptyStr | None = None
    # The duty roster (yuqingd.runtime.roster.DutySpec), validated once the rule files' key dates
    # are known.
    duty: dict[str, Any] | None = None
    # What sub-units must submit by when (yuqingd.runtime.submissions).
    submissions: list[SubmissionSpec] = []
    log: LogSettings = LogSettings()
    delivery: DeliverySettings = DeliverySettings()
    supervisor: SupervisorSettings = SupervisorSettings()
    # Off unless configured.
    http: HttpSettings | None = None
    shutdown_grace: PositiveDuration = 10.0
    # Rule matching: durable-rules where it imports (auto), or the pure-Python engine.
    engine: Literal["auto", "durable", "python"] = "auto"
    status_every: PositiveDuration = 10.0
    # The event loop running no callback for this long is "blocked" (yuqingd.watchdog).
    watchdog: PositiveDuration = 10.0
    # How long personal information is kept (PIPL; yuqingd.runtime.retention): 180 days.
    retention: PositiveDuration = 180 * 86400.0

    @field_validator("unit")
    @classmethod
    def _one_line_unit(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > MAX_UNIT or any(c in value for c in "\r\n\t")):
            raise ValueError(f"单位名称须为一行、不超过 {MAX_UNIT} 个字（示例: 耒阳市教育局）")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"未知时区 '{value}'（示例: Asia/Shanghai）") from None
        return value


@dataclass(frozen=True)
class Config:
    """A fully validated configuration: the file, the plugin specs and the rule set."""

    path: Path
    file: ConfigFile
    state_dir: Path
    control_socket: Path
    sources: tuple[SourceSpec, ...]
    notifiers: tuple[NotifierSpec, ...]
    ruleset: RuleSet
    source_kinds: dict[str, SourceKind]
    notifier_kinds: dict[str, NotifierKind]

    duty: DutySpec | None = None

    @property
    def roles(self) -> dict[str, Role]:
        return self.file.roles

    @property
    def unit(self) -> str:
        """The bureau's name as report titles say it."""
        return self.file.unit or DEFAULT_UNIT

    @functools.cached_property
    def roster(self) -> Roster | None:
        return Roster(self.duty, self.ruleset.calendar) if self.duty is not None else None

    @functools.cached_property
    def submissions(self) -> tuple[SubmissionSpec, ...]:
        """The ``submissions:`` section, their schedules in the config's zone."""
        return tuple(s.model_copy(update={"due": s.due.at_zone(self.file.timezone)})
                     for s in self.file.submissions)

    def directory(self, clock) -> Directory:
        """Who holds each role when: the roster's people, else the ``roles:`` entry."""
        return Directory(self.roles, self.roster, clock.to_datetime)

    @property
    def database(self) -> Path:
        return self.state_dir / DATABASE_NAME


def load_config(path: Path, plugins: Plugins) -> Config:
    """Validate ``path`` and every file and plugin section it names; raise ConfigError with
    every problem found."""
    path = Path(path)
    doc = load_yaml(path)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError([doc.at((), msg("配置文件顶层应为映射", "config must be a mapping"))])
    try:
        return _load(path, doc, data, plugins)
    except PluginError as exc:
        raise ConfigError([doc.at((), msg(f"插件 '{exc.plugin}' 出错: {exc}", str(exc)))]) from exc
    except (ConfigError, KeyboardInterrupt):
        raise
    except Exception as exc:  # a check that broke on input nobody foresaw: still no traceback
        raise ConfigError([doc.at((), msg(
            f"无法检查此文件（内部错误 {type(exc).__name__}: {exc}；请报告此问题）",
            f"cannot check this file (internal error {type(exc).__name__}: {exc})"))]) from exc


def _written_notifier_names(data: dict) -> set[str] | None:
    """The channel names the file defines, for checking references while the file has errors.

    A channel whose entry is wrong is still defined: its own error is enough. Without a
    ``notifiers:`` list (a misspelt key, a wrong shape) nothing is checked against it — else
    every person's channels would add an error that the one at the section already explains
    (the follow-on errors a newcomer found burying the real one)."""
    section = data.get("notifiers")
    if not isinstance(section, list):
        return None
    return {str(e["name"]) for e in section if isinstance(e, dict) and "name" in e}


def _load(path: Path, doc: LocatedDocument, data: dict, plugins: Plugins) -> Config:
    errors: list[LocatedError] = []
    cfg = validate(ConfigFile, data, doc, errors)
    if cfg is None:
        # Still check the plugin sections, so one run of `check` lists every error.
        _plugin_sections(
            doc, _entries(data.get("sources")),
            _entries(data.get("notifiers"), NotifierEntry), plugins, errors
        )
        # …and the rule files and the roster, with whatever roles the file names.
        rules = data.get("rules") if isinstance(data.get("rules"), list) else []
        roles = data.get("roles") if isinstance(data.get("roles"), dict) else {}
        known = frozenset(roles) | roster_roles(data.get("duty"))
        ruleset = _load_rule_files(doc, [r for r in rules if isinstance(r, str)], Names(
            roles=known, timezone=str(data.get("timezone", DEFAULT_TIMEZONE))), errors)
        if isinstance(data.get("duty"), dict):
            _duty(doc, data["duty"], _written_notifier_names(data), known, ruleset, errors)
        raise ConfigError(errors) from None

    base = path.parent.resolve()
    sources, notifiers, source_kinds, notifier_kinds = _plugin_sections(
        doc, cfg.sources, cfg.notifiers, plugins, errors
    )
    notifier_names = {e.name for e in cfg.notifiers}
    for role_name, role in cfg.roles.items():
        for j, channel in enumerate(role.channels):
            if channel not in notifier_names:
                errors.append(
                    doc.at(
                        ("roles", role_name, "channels", j),
                        msg(f"未定义的通知渠道 '{channel}'", f"undefined notifier '{channel}'")
                        + did_you_mean(channel, notifier_names),
                    )
                )

    names = Names(
        roles=frozenset(cfg.roles) | roster_roles(cfg.duty),
        notifiers=frozenset(n.name for n in cfg.notifiers),
        sources=frozenset(s.name for s in cfg.sources),
        source_kinds=frozenset(s.kind for s in cfg.sources),
        timezone=cfg.timezone,
    )
    ruleset = _load_rule_files(doc, cfg.rules, names, errors)
    duty = _duty(doc, cfg.duty, notifier_names, names.roles, ruleset, errors)
    _expectation_names(doc, cfg, duty, names.roles, errors)
    if errors:
        raise ConfigError(errors)
    assert ruleset is not None
    state_dir = _state_dir(base, cfg.state_dir)
    return Config(
        path=path,
        file=cfg,
        state_dir=state_dir,
        control_socket=_control_socket(base, cfg.control_socket, state_dir),
        sources=sources,
        notifiers=notifiers,
        ruleset=ruleset,
        source_kinds=source_kinds,
        notifier_kinds=notifier_kinds,
        duty=duty,
    )


def _duty(doc: LocatedDocument, raw: dict[str, Any] | None, notifiers: set[str] | None,
          roles: frozenset[str], ruleset: RuleSet | None,
          errors: list[LocatedError]) -> DutySpec | None:
    if raw is None:
        return None
    context: dict[str, Any] = {"notifiers": notifiers, "roles": roles}
    if ruleset is not None:
        context["key_dates"] = set(ruleset.key_dates)
    return validate(DutySpec, raw, doc, errors, ("duty",), context=context)


def _expectation_names(doc: LocatedDocument, cfg: ConfigFile, duty: DutySpec | None,
                       roles: frozenset[str], errors: list[LocatedError]) -> None:
    """Roles told of missed check-ins, gaps and late submissions, and units' contacts, must
    be known (in ``roles:`` or the roster; contacts in ``duty.people`` or ``roles:``)."""
    def role(loc: tuple, name: str) -> None:
        if name not in roles:
            errors.append(doc.at(loc, msg(f"未定义的角色 '{name}'", f"undefined role '{name}'")
                                 + did_you_mean(name, roles)))

    if cfg.office is not None:
        role(("office",), cfg.office)
    if duty is not None:
        if "check_in_role" in (cfg.duty or {}):
            role(("duty", "check_in_role"), duty.check_in_role)
        for field in ("check_in_escalate", "gaps_notify", "report_to"):
            for i, name in enumerate(getattr(duty, field) or ()):
                role(("duty", field, i), name)
    people = set(duty.people if duty else ()) | {r.person for r in cfg.roles.values()}
    for i, spec in enumerate(cfg.submissions):
        for j, name in enumerate(spec.escalate):
            role(("submissions", i, "escalate", j), name)
        for j, unit in enumerate(spec.units):
            for k, person in enumerate(unit.contacts):
                if person not in people:
                    errors.append(doc.at(("submissions", i, "units", j, "contacts", k), msg(
                        f"未登记的人员 '{person}'（须写在 duty.people 或 roles 中）",
                        f"unknown person '{person}'") + did_you_mean(person, people)))
    seen: set[str] = set()
    for i, spec in enumerate(cfg.submissions):
        if spec.name in seen:
            errors.append(doc.at(("submissions", i, "name"),
                                 msg(f"报送名称 '{spec.name}' 重复", f"duplicate '{spec.name}'")))
        seen.add(spec.name)


def roster_roles(raw: Any) -> frozenset[str]:
    """Role names the (unvalidated) ``duty:`` section assigns, for the chains' cross-check."""
    names: set[str] = set()
    if not isinstance(raw, dict) or not isinstance(raw.get("roster"), dict):
        return frozenset()
    roster = raw["roster"]
    if isinstance(roster.get("rotation"), dict) and isinstance(roster["rotation"].get("roles"),
                                                               dict):
        names.update(str(k) for k in roster["rotation"]["roles"])
    for assigned in (roster.get("dates") or {}).values() if isinstance(roster.get("dates"),
                                                                         dict) else ():
        if isinstance(assigned, dict):
            names.update(str(k) for k in assigned)
    return frozenset(names)


def _first_systemd_dir(variable: str) -> Path | None:
    """The first folder of a systemd ``$STATE_DIRECTORY``-style list (``:``-separated)."""
    value = os.environ.get(variable, "").split(":")[0]
    return Path(value) if value else None


def _state_dir(base: Path, configured: str | None) -> Path:
    """``state_dir:`` if written; else the unit's ``StateDirectory=`` when systemd runs us."""
    if configured:
        return (base / configured).resolve()
    return (_first_systemd_dir("STATE_DIRECTORY") or Path(DEFAULT_STATE_DIR)).resolve()


def _control_socket(base: Path, configured: str | None, state_dir: Path) -> Path:
    if configured:
        return (base / configured).resolve()
    runtime = _first_systemd_dir("RUNTIME_DIRECTORY")
    return (runtime or state_dir) / "control.sock"


def _raw_mapping(path: Path) -> dict:
    data = load_yaml(path).data
    return data if isinstance(data, dict) else {}


def _raw_str(data: dict, key: str) -> str | None:
    return data[key] if isinstance(data.get(key), str) else None


def state_dir_path(path: Path) -> Path:
    """The state folder, read from the config without validating the rest (for ``migrate``,
    which a package upgrade runs even when someone's edit has broken a rule file)."""
    path = Path(path)
    return _state_dir(path.parent.resolve(), _raw_str(_raw_mapping(path), "state_dir"))


def timezone_of(path: Path) -> str:
    """The config's ``timezone:``, read without validating the rest (for offline commands)."""
    return _raw_str(_raw_mapping(Path(path)), "timezone") or DEFAULT_TIMEZONE


def control_socket_path(path: Path) -> Path:
    """Where the running daemon listens, read from the config without validating the rest:
    ``yuqingd ack`` must work while someone's unreloaded edit has broken a rule file."""
    path = Path(path)
    data = _raw_mapping(path)
    base = path.parent.resolve()
    state_dir = _state_dir(base, _raw_str(data, "state_dir"))
    return _control_socket(base, _raw_str(data, "control_socket"), state_dir)


def _load_rule_files(doc: LocatedDocument, files: list[str], names: Names,
                     errors) -> RuleSet | None:
    base = doc.path.parent.resolve()
    rule_paths = []
    for i, name in enumerate(files):
        rule_path = (base / name).resolve()
        if rule_path in rule_paths:  # read twice, its every definition would clash with itself
            errors.append(doc.at(("rules", i), msg(f"规则文件重复列出: {name}（删除重复的一项）",
                                                   f"rule file listed twice: {name}")))
        elif rule_path.is_file():
            rule_paths.append(rule_path)
        else:
            errors.append(
                doc.at(("rules", i), msg(f"规则文件不存在: {name}", f"rule file not found: {name}"))
            )
    try:
        return load_rules(rule_paths, names.roles, names)
    except ConfigError as exc:
        errors.extend(exc.errors)
        return None


def _entries(raw: Any, model: type[PluginEntry] = PluginEntry) -> list[PluginEntry | None]:
    """Best-effort entries from an unvalidated section (None where an entry is unusable)."""
    out: list[PluginEntry | None] = []
    for entry in raw if isinstance(raw, list) else []:
        try:
            out.append(model.model_validate(entry))
        except pydantic.ValidationError:
            out.append(None)
    return out


def _plugin_sections(doc, source_entries, notifier_entries, plugins: Plugins, errors):
    base = doc.path.parent.resolve()
    unavailable = getattr(plugins, "unavailable", None)
    source_kinds = _kinds(plugins.source_kinds(), doc, "sources", source_entries, errors,
                          unavailable)
    notifier_kinds = _kinds(plugins.notifier_kinds(), doc, "notifiers", notifier_entries, errors,
                            unavailable)
    sources = tuple(
        SourceSpec(e.name, e.kind, opts, base)
        for e, opts in _plugin_options(doc, "sources", source_entries, source_kinds, errors,
                                       base)
    )
    notifiers = tuple(
        NotifierSpec(e.name, e.kind, opts, base, getattr(e, "rate_limit", None))
        for e, opts in _plugin_options(doc, "notifiers", notifier_entries, notifier_kinds, errors,
                                       base)
    )
    return sources, notifiers, source_kinds, notifier_kinds


def _kinds(offered: dict, doc: LocatedDocument, section: str, entries, errors,
           unavailable: Callable[[str], list[str]] | None = None) -> dict:
    """Resolve each entry's ``kind`` to exactly one plugin's kind; report unknown and clashes."""
    kinds = {}
    for name, providers in offered.items():
        if len(providers) > 1:
            plugins_named = ", ".join(p for p, _ in providers)
            errors.append(
                doc.at(
                    (section,),
                    msg(
                        f"类型 '{name}' 由多个插件提供: {plugins_named}",
                        f"kind '{name}' is offered by several plugins: {plugins_named}",
                    ),
                )
            )
        kinds[name] = providers[0][1]
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry is None:
            continue
        if entry.kind not in kinds:
            errors.append(
                doc.at(
                    (section, i, "kind"),
                    msg(
                        f"未知类型 '{entry.kind}'（已安装: {', '.join(sorted(kinds)) or '无'}）",
                        f"unknown kind '{entry.kind}' "
                        f"(installed: {', '.join(sorted(kinds)) or 'none'})",
                    )
                    + did_you_mean(entry.kind, kinds)
                    # a plugin disabled (it failed) or refused (its API version) may be the
                    # one offering it
                    + "".join(f"；{why}" for why in
                              (unavailable(entry.kind) if unavailable else ())),
                )
            )
        if entry.name in seen:
            errors.append(
                doc.at(
                    (section, i, "name"),
                    msg(f"名称 '{entry.name}' 重复", f"duplicate name '{entry.name}'"),
                )
            )
        seen.add(entry.name)
    return kinds


def _plugin_options(doc, section: str, entries, kinds: dict, errors,
                    base: Path | None = None) -> list[tuple[Any, Any]]:
    """Validate each entry's own options with its kind's model (the plugin's schema); the
    validation context's ``base_dir`` is the config's folder (for files the options name)."""
    out = []
    for i, entry in enumerate(entries):
        kind = kinds.get(entry.kind) if entry is not None else None
        if kind is None:
            continue
        options = validate(kind.options, dict(entry.model_extra or {}), doc, errors, (section, i),
                           context={"base_dir": base})
        if options is not None:
            out.append((entry, options))
    return out
