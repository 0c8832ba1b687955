"""The core's layering (issue 8), checked on the source: no import cycle between yuqingd's
packages and modules; SQL and sqlite3 only under store/; the plugin manager's hooks called only
in plugins.py; durable-rules only in rules/engine.py; reports do not reach into the runtime."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "yuqingd"
# Type-only imports (``if TYPE_CHECKING:``) and imports inside functions are not edges: they do
# not run at import time. One module-level loop is known and allowed: the calendar's models use
# the shared field types, which parse durations (time/ and schema_types.py).
ALLOWED = {("time", "schema_types")}


def node(module: str) -> str:
    """yuqingd.runtime.incidents → runtime; yuqingd.cli → cli."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def sources() -> list[tuple[Path, str]]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        out.append((path, module.removesuffix(".__init__")))
    return out


def imports(path: Path) -> set[str]:
    """The yuqingd modules ``path`` imports when it is imported."""
    found = set()
    for stmt in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and stmt.level == 0:
            if stmt.module == "yuqingd":
                found |= {f"yuqingd.{alias.name}" for alias in stmt.names}
            elif stmt.module.startswith("yuqingd."):
                found.add(stmt.module)
        elif isinstance(stmt, ast.Import):
            found |= {a.name for a in stmt.names if a.name.startswith("yuqingd.")}
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path, module in sources():
        here = node(module)
        for target in imports(path):
            there = node(target)
            if there != here and (here, there) not in ALLOWED:
                edges[here].add(there)
    return edges


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(edges.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(edges):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_layering_no_import_cycle_between_packages():
    """Importing any package never needs a package that needs it back."""
    assert find_cycle(graph()) is None, " → ".join(find_cycle(graph()) or [])


def test_layering_cycle_check_finds_a_cycle():
    """The check itself sees a loop when there is one."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


def outside(prefix: str) -> list[tuple[Path, str]]:
    return [(p, p.read_text(encoding="utf-8")) for p, _ in sources()
            if not str(p.relative_to(PACKAGE)).startswith(prefix)]


SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                 r"DELETE\s+FROM|\.execute\()", re.S)


def test_layering_sql_and_sqlite3_only_in_the_store():
    """No module outside yuqingd/store imports sqlite3 or runs a query."""
    leaks = [str(p) for p, text in outside("store/")
             if re.search(r"^\s*(import sqlite3|from sqlite3)", text, re.M) or SQL.search(text)]
    assert leaks == []


def test_layering_hooks_called_only_through_the_plugin_facade():
    """pm.hook appears in plugins.py only; durable-rules is imported in rules/engine.py only."""
    hooks = [str(p) for p, text in outside("plugins.py") if "pm.hook" in text]
    durable = [str(p) for p, text in outside("rules/engine.py")
               if re.search(r"^\s*(import durable|from durable)", text, re.M)]
    assert hooks == [] and durable == []


def test_layering_reports_render_without_the_runtime():
    """reports/ takes typed data and renders: it imports nothing from runtime/ or daemon."""
    edges = graph()
    assert not edges["reports"] & {"runtime", "daemon", "commands", "pipeline"}
