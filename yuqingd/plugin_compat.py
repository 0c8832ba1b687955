"""Refuse plugins written against another major of the plugin API (``YUQINGD_API``)."""

from __future__ import annotations

import pluggy

from yuqingd.located import msg
from yuqingd.plugin_api import API_MAJOR, API_VERSION

DECLARATION = "YUQINGD_API"


def refusal(name: str, plugin: object) -> str | None:
    """Why ``plugin`` cannot be loaded, or None. A plugin without the declaration is loaded
    (it predates it); one that declares anything but ``API_MAJOR`` is not."""
    declared = getattr(plugin, DECLARATION, None)
    if declared is None:
        return None
    major = declared if isinstance(declared, int) and not isinstance(declared, bool) else None
    if major is None:
        return msg(
            f"插件 '{name}' 的 {DECLARATION} 应为整数（插件接口的主版本，当前为 {API_MAJOR}），"
            f"而不是 {declared!r}；该插件未加载",
            f"plugin '{name}': {DECLARATION} must be an int (the plugin API major, now "
            f"{API_MAJOR}), not {declared!r}; not loaded",
        )
    if major != API_MAJOR:
        return msg(
            f"插件 '{name}' 是为插件接口 {major}.x 编写的，本 yuqingd 提供的是 {API_VERSION}"
            f"（主版本 {API_MAJOR}）；该插件未加载。请安装与本 yuqingd 匹配的插件版本，"
            "或与插件匹配的 yuqingd",
            f"plugin '{name}' targets plugin API {major}.x, this yuqingd provides {API_VERSION} "
            f"(major {API_MAJOR}); not loaded. Install a plugin release that matches this "
            "yuqingd, or a yuqingd that matches the plugin",
        )
    return None


def refuse_mismatched(pm: pluggy.PluginManager) -> dict[str, str]:
    """Unregister every plugin that declares another API major; plugin name → why."""
    refused = {}
    for name, plugin in list(pm.list_name_plugin()):
        if plugin is None:  # blocked by the operator
            continue
        why = refusal(name, plugin)
        if why is not None:
            pm.unregister(plugin)
            refused[name] = why
    return refused
