"""The plugin manager and the one typed façade through which the core calls hooks."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib import metadata

import pluggy

from yuqingd import hookspecs
from yuqingd.enrichers import Enricher
from yuqingd.notifiers import NotifierKind
from yuqingd.plugin_compat import refuse_mismatched
from yuqingd.sources import SourceKind

DISABLED_ENV = "YUQINGD_DISABLED_PLUGINS"
EXTRA_ENV = "YUQINGD_PLUGINS"  # comma-separated modules to load as plugins (like PYTEST_PLUGINS)


def get_plugin_manager(
    *, load_entrypoints: bool = True, extra: tuple[object, ...] = (), blocked: tuple[str, ...] = ()
) -> pluggy.PluginManager:
    """A fresh plugin manager: entry points of group ``yuqingd`` plus ``extra`` plugin objects.

    Plugins named in ``blocked`` or in ``$YUQINGD_DISABLED_PLUGINS`` (comma separated) are not
    loaded. Modules named in ``$YUQINGD_PLUGINS`` are imported and registered too, which lets a
    plugin author try a plugin before packaging it.
    """
    pm = pluggy.PluginManager("yuqingd")
    pm.add_hookspecs(hookspecs)
    for name in (*blocked, *_names(os.environ.get(DISABLED_ENV, ""))):
        pm.set_blocked(name)
    if load_entrypoints:
        pm.load_setuptools_entrypoints("yuqingd")
    for module in _names(os.environ.get(EXTRA_ENV, "")):
        if not pm.is_blocked(module):
            pm.register(importlib.import_module(module), name=module)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


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


class Plugins:
    """Typed access to the hooks; ``pm.hook`` is used here and nowhere else."""

    def __init__(self, pm: pluggy.PluginManager):
        self.pm = pm
        # Plugins written for another major of yuqingd.plugin_api: not loaded, and said why.
        self.refused: dict[str, str] = refuse_mismatched(pm)

    def source_kinds(self) -> dict[str, list[tuple[str, SourceKind]]]:
        """Kind name → [(plugin name, kind)]; more than one entry is a conflict."""
        return self._collect("yuqingd_source_kinds")

    def notifier_kinds(self) -> dict[str, list[tuple[str, NotifierKind]]]:
        return self._collect("yuqingd_notifier_kinds")

    def enrichers(self) -> list[tuple[str, Enricher]]:
        """(plugin name, enricher) in registration order."""
        out = []
        caller = self.pm.hook.yuqingd_enrichers
        for impl in caller.get_hookimpls():  # in registration order
            plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                found = list(impl.function() or ())
            except Exception as exc:
                raise PluginError(plugin_name, "yuqingd_enrichers", exc) from exc
            out += [(plugin_name, e) for e in found]
        return out

    def _collect(self, hook_name: str) -> dict:
        out: dict[str, list] = {}
        caller = getattr(self.pm.hook, hook_name)
        for impl in caller.get_hookimpls():
            plugin_name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            try:
                kinds = list(impl.function() or ())
            except Exception as exc:  # a plugin's bug is reported, not a traceback
                raise PluginError(plugin_name, hook_name, exc) from exc
            for kind in kinds:
                out.setdefault(kind.name, []).append((plugin_name, kind))
        return out

    def describe(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution version and the kinds it offers."""
        versions = {
            self.pm.get_name(plugin): dist.version
            for plugin, dist in self.pm.list_plugin_distinfo()
        }
        sources = self.source_kinds()
        notifiers = self.notifier_kinds()
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:  # blocked
                continue
            infos.append(
                PluginInfo(
                    name=name,
                    version=versions.get(name) or _module_version(plugin),
                    source_kinds=tuple(
                        k for k, v in sources.items() if any(p == name for p, _ in v)
                    ),
                    notifier_kinds=tuple(
                        k for k, v in notifiers.items() if any(p == name for p, _ in v)
                    ),
                )
            )
        return sorted(infos, key=lambda i: i.name)


def _module_version(plugin: object) -> str:
    version = getattr(plugin, "__version__", None)
    if version:
        return str(version)
    try:
        return metadata.version(getattr(plugin, "__name__", ""))
    except (metadata.PackageNotFoundError, ValueError):
        return "?"
