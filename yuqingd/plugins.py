"""The plugin manager and the one typed façade through which the core calls hooks.

A plugin that cannot be imported or registered, or whose hook raises or returns something that
is not what its spec says, is *disabled*: it offers nothing, and :attr:`Plugins.broken` says
why. Every command and the daemon go on without it; only a config that uses one of its kinds is
in error (see ``config._kinds``).
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from yuqingd import hookspecs
from yuqingd.enrichers import Enricher
from yuqingd.located import msg
from yuqingd.notifiers import NotifierKind
from yuqingd.plugin_compat import refuse_mismatched
from yuqingd.sources import SourceKind

DISABLED_ENV = "YUQINGD_DISABLED_PLUGINS"
EXTRA_ENV = "YUQINGD_PLUGINS"  # comma-separated modules to load as plugins (like PYTEST_PLUGINS)
GROUP = "yuqingd"


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that is installed but disabled because it failed."""

    name: str
    error: str  # "ImportError: No module named 'lxml'"
    stage: str  # "import", "register" or the hook that raised
    module: str = ""  # what the entry point names, to match a config's kind against
    version: str = "?"

    def describe(self) -> str:
        if self.stage in ("import", "register"):
            return msg(f"无法加载，已停用：{self.error}",
                       f"failed to load, disabled: {self.error}")
        return msg(f"{self.stage} 出错，已停用：{self.error}",
                   f"{self.stage} failed, disabled: {self.error}")


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, remembering the plugins that failed to load and the versions of those
    that did."""

    def __init__(self) -> None:
        super().__init__(GROUP)
        self.broken: dict[str, BrokenPlugin] = {}
        self.versions: dict[str, str] = {}


def get_plugin_manager(
    *, load_entrypoints: bool = True, extra: tuple[object, ...] = (), blocked: tuple[str, ...] = ()
) -> PluginManager:
    """A fresh plugin manager: entry points of group ``yuqingd`` plus ``extra`` plugin objects.

    Plugins named in ``blocked`` or in ``$YUQINGD_DISABLED_PLUGINS`` (comma separated) are not
    loaded. Modules named in ``$YUQINGD_PLUGINS`` are imported and registered too, which lets a
    plugin author try a plugin before packaging it. A plugin that fails to import or register
    is recorded in ``pm.broken`` instead of stopping the caller.
    """
    pm = PluginManager()
    pm.add_hookspecs(hookspecs)
    for name in (*blocked, *_names(os.environ.get(DISABLED_ENV, ""))):
        pm.set_blocked(name)
    if load_entrypoints:
        _load_entrypoints(pm)
    for module in _names(os.environ.get(EXTRA_ENV, "")):
        if not pm.is_blocked(module) and not pm.has_plugin(module):
            _register(pm, module, module, lambda module=module: importlib.import_module(module))
    for plugin in extra:
        pm.register(plugin)  # the caller's own objects (tests): their errors are the caller's
    _check_pending(pm)
    return pm


def _load_entrypoints(pm: PluginManager) -> None:
    for dist in list(metadata.distributions()):
        for ep in dist.entry_points:
            if (ep.group != GROUP or pm.has_plugin(ep.name) or pm.is_blocked(ep.name)
                    or ep.name in pm.broken):
                continue
            if _register(pm, ep.name, ep.value, ep.load, dist.version):
                pm.versions[ep.name] = dist.version


def _register(pm: PluginManager, name: str, module: str, load: Any, version: str = "?") -> bool:
    try:
        plugin = load()
    except (Exception, SystemExit) as exc:  # its import failed: a missing dependency, a bug
        pm.broken[name] = BrokenPlugin(name, describe_error(exc), "import", module, version)
        return False
    try:
        pm.register(plugin, name=name)
    except Exception as exc:  # pluggy refused it (a hook with a wrong signature)
        pm.broken[name] = BrokenPlugin(name, describe_error(exc), "register", module, version)
        return False
    return True


def _check_pending(pm: PluginManager) -> None:
    """pluggy's check_pending, disabling the plugin that implements an unknown hook."""
    while True:
        try:
            pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = pm.get_name(exc.plugin) or repr(exc.plugin)
            pm.unregister(exc.plugin)
            pm.broken[name] = BrokenPlugin(name, str(exc), "register", _module_of(exc.plugin),
                                           pm.versions.pop(name, "?"))
        else:
            return


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class PluginError(Exception):
    """A plugin's hook raised."""

    def __init__(self, plugin: str, hook: str, error: BaseException):
        self.plugin = plugin
        super().__init__(f"plugin '{plugin}' failed in {hook}: {type(error).__name__}: {error}")


@dataclass(frozen=True)
class PluginInfo:
    name: str
    version: str
    source_kinds: tuple[str, ...]
    notifier_kinds: tuple[str, ...]


_HOOKS = ("yuqingd_source_kinds", "yuqingd_notifier_kinds", "yuqingd_enrichers")
_RETURNS: dict[str, type] = {
    "yuqingd_source_kinds": SourceKind,
    "yuqingd_notifier_kinds": NotifierKind,
}


class Plugins:
    """Typed access to the hooks; ``pm.hook`` is used here and nowhere else.

    Each plugin's hooks are called once, the first time anything is asked; a plugin one of whose
    hooks raises is disabled whole (none of its kinds or enrichers is offered) and listed in
    :attr:`broken`.
    """

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        # Plugins written for another major of yuqingd.plugin_api: not loaded, and said why.
        self.refused: dict[str, str] = refuse_mismatched(pm)
        self._broken: dict[str, BrokenPlugin] = dict(getattr(pm, "broken", {}))
        self._offers: dict[str, dict[str, list[Any]]] | None = None

    @property
    def broken(self) -> dict[str, BrokenPlugin]:
        """Plugin name → why it is disabled (failed to import, or a hook failed)."""
        self._gather()
        return self._broken

    def _gather(self) -> dict[str, dict[str, list[Any]]]:
        """Plugin name → hook name → what it returned, for the plugins that work."""
        if self._offers is not None:
            return self._offers
        offers: dict[str, dict[str, list[Any]]] = {}
        for hook_name in _HOOKS:
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
                if name in self._broken:
                    continue
                try:
                    found = list(impl.function() or ())
                    _check_returned(hook_name, found)
                except Exception as exc:  # a plugin's bug disables that plugin, nothing else
                    self._broken[name] = BrokenPlugin(
                        name, describe_error(exc), hook_name, _module_of(impl.plugin),
                        self._version(name, impl.plugin))
                    continue
                offers.setdefault(name, {})[hook_name] = found
        self._offers = {n: o for n, o in offers.items() if n not in self._broken}
        return self._offers

    def source_kinds(self) -> dict[str, list[tuple[str, SourceKind]]]:
        """Kind name → [(plugin name, kind)]; more than one entry is a conflict."""
        return self._collect("yuqingd_source_kinds")

    def notifier_kinds(self) -> dict[str, list[tuple[str, NotifierKind]]]:
        return self._collect("yuqingd_notifier_kinds")

    def enrichers(self) -> list[tuple[str, Enricher]]:
        """(plugin name, enricher) in registration order."""
        return [(name, e) for name, offer in self._ordered()
                for e in offer.get("yuqingd_enrichers", ())]

    def _ordered(self) -> list[tuple[str, dict[str, list[Any]]]]:
        offers = self._gather()
        order = [name for name, _ in self.pm.list_name_plugin()]
        return sorted(offers.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 0)

    def _collect(self, hook_name: str) -> dict:
        out: dict[str, list] = {}
        for plugin_name, offer in self._ordered():
            for kind in offer.get(hook_name, ()):
                out.setdefault(kind.name, []).append((plugin_name, kind))
        return out

    def owner(self, section: str, kind: str) -> str | None:
        """The plugin offering ``kind`` in ``sources``/``notifiers``."""
        offered = self.source_kinds() if section == "sources" else self.notifier_kinds()
        providers = offered.get(kind)
        return providers[0][0] if providers else None

    def unavailable(self, kind: str) -> list[str]:
        """Why ``kind`` may be missing: the disabled plugin named like it, else every disabled
        one, and every plugin refused for its API version (for the config's error)."""
        broken = sorted(self.broken.values(), key=lambda b: b.name)
        want = _stem(kind)
        named = [b for b in broken
                 if want in (_stem(b.name), _stem(b.module.split(":")[0].split(".")[0]))]
        return [f"插件 '{b.name}' {b.describe()}" for b in (named or broken)] + list(
            self.refused.values())

    def modules(self) -> dict[str, str]:
        """Module name → plugin name, for every working plugin (to find one in a stack)."""
        self._gather()
        out = {}
        for name, plugin in self.pm.list_name_plugin():
            if plugin is not None and name not in self.broken:
                out[_module_of(plugin)] = name
        return out

    def _version(self, name: str, plugin: object) -> str:
        versions = getattr(self.pm, "versions", {})
        return versions.get(name) or _module_version(plugin)

    def describe(self) -> list[PluginInfo]:
        """Every working plugin with its distribution version and the kinds it offers."""
        sources = self.source_kinds()
        notifiers = self.notifier_kinds()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None or name in self.broken:  # blocked, or disabled
                continue
            infos.append(
                PluginInfo(
                    name=name,
                    version=self._version(name, plugin),
                    source_kinds=tuple(
                        k for k, v in sources.items() if any(p == name for p, _ in v)
                    ),
                    notifier_kinds=tuple(
                        k for k, v in notifiers.items() if any(p == name for p, _ in v)
                    ),
                )
            )
        return sorted(infos, key=lambda i: i.name)


def _check_returned(hook_name: str, found: list[Any]) -> None:
    expected = _RETURNS.get(hook_name)
    for value in found:
        if expected is not None and not isinstance(getattr(value, "name", None), str):
            raise TypeError(f"{hook_name} returned {type(value).__name__}, "
                            f"not a {expected.__name__}")


def _stem(name: str) -> str:
    """'yuqingd-weibo', 'yuqingd_weibo' and 'weibo' all name the same thing."""
    return re.sub(r"^yuqingd[-_.]?", "", name.lower()).replace("-", "_")


def _module_of(plugin: object) -> str:
    name = getattr(plugin, "__name__", None)
    if isinstance(name, str) and type(plugin).__name__ == "module":
        return name
    return type(plugin).__module__


def _module_version(plugin: object) -> str:
    version = getattr(plugin, "__version__", None)
    if version:
        return str(version)
    try:
        return metadata.version(getattr(plugin, "__name__", ""))
    except (metadata.PackageNotFoundError, ValueError):
        return "?"
