"""The two packages' layers, read from the source with `ast`: what may import what, and no circle.

The integration (`dagster_usertesting`, integrations/dagster-usertesting) is the bottom and knows
nothing of ut-dagster; within it `lib/` holds no Dagster definitions and imports none. In ut-dagster,
`environment.py` parses settings, `defs/` builds on it and `cli/` on everything. The sandbox
(`dagster_usertesting.testing`) is a development tool the code location never loads. An import that
runs back up, or a circle, is how layers quietly become one tangle, so each rule names the offending file.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "ut_dagster"
INTEGRATION = "dagster_usertesting"
PACKAGE_DIRS = (REPO / PACKAGE, REPO / "integrations" / "dagster-usertesting" / INTEGRATION)
UPPER_LAYERS = (f"{PACKAGE}.defs", f"{PACKAGE}.cli")
SANDBOX = f"{INTEGRATION}.testing"


def module_files() -> dict[str, Path]:
    """Every module of both packages by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for package_dir in PACKAGE_DIRS:
        for path in sorted(package_dir.rglob("*.py")):
            parts = path.relative_to(package_dir.parent).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = module_files()


def imported_names(module: str, *, module_level_only: bool) -> set[str]:
    """The dotted names `module` imports; `from a import b` gives a.b when that is a module, else a."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), module_level_only):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
            continue
        base = _absolute(node, package)
        for alias in node.names:
            names.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return names


def _import_nodes(tree: ast.Module, module_level_only: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    # Module level includes `if TYPE_CHECKING:` blocks: a type-only import still names a dependency,
    # and it is how a circle usually hides. Function bodies run later, when every module is loaded.
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        for child in ast.iter_child_nodes(node):
            if module_level_only and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child
            pending.append(child)


def _absolute(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _within(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def test_the_integration_imports_nothing_of_ut_dagster() -> None:
    upward = {
        f"{module}: {name}"
        for module in MODULES
        if _within(module, (INTEGRATION,))
        for name in imported_names(module, module_level_only=False)
        if _within(name, (PACKAGE,))
    }
    assert not upward, "dagster_usertesting imports ut_dagster:\n" + "\n".join(sorted(upward))


def test_lib_imports_no_dagster_definitions() -> None:
    upward = {
        f"{module}: {name}"
        for module in MODULES
        if _within(module, (f"{INTEGRATION}.lib",))
        for name in imported_names(module, module_level_only=False)
        if _within(name, (*UPPER_LAYERS, f"{INTEGRATION}.defs", f"{INTEGRATION}.component"))
    }
    assert not upward, "lib/ imports Dagster definitions:\n" + "\n".join(sorted(upward))


def test_environment_imports_nothing_from_defs_or_cli() -> None:
    imported = imported_names(f"{PACKAGE}.environment", module_level_only=False)
    upward = sorted(name for name in imported if _within(name, UPPER_LAYERS))
    assert not upward, f"environment.py imports from defs/ or cli/: {', '.join(upward)}"


def module_graph() -> dict[str, set[str]]:
    """Module -> the package's modules its module-level imports run, their parent packages included."""
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets: set[str] = set()
        for name in imported_names(module, module_level_only=True):
            parts = name.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        # A module's own packages were loaded before it: naming them (`from . import x`) closes nothing.
        graph[module] = {
            t for t in targets if t in MODULES and t != module and not module.startswith(t + ".")
        }
    return graph


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Each group of modules that reach each other (Tarjan's strongly connected components), as one
    circle through it, `a -> b -> ... -> a`, and the group's other modules; sorted for a stable message."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[str] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = {stack.pop()}
            while node not in component:
                component.add(stack.pop())
            if len(component) > 1:
                circle = _circle_in(graph, component)
                others = sorted(component - set(circle))
                found.append(
                    " -> ".join(circle) + (f" (also reached: {', '.join(others)})" if others else "")
                )

    # Recursion as deep as the longest import chain: a few dozen modules.
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def _circle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    # The shortest way back to the component's first module, found breadth first.
    start = min(component)
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & component):
                if target == start:
                    return [*paths[node], start]
                if target not in paths:
                    paths[target] = [*paths[node], target]
                    following.append(target)
        frontier = following
    raise AssertionError(f"no circle back to {start} in {sorted(component)}")


def test_no_import_circle_among_the_packages_modules() -> None:
    found = circles(module_graph())
    assert not found, "import circles (module-level imports, TYPE_CHECKING included):\n" + "\n".join(found)


def test_loading_the_code_location_imports_nothing_of_the_sandbox(tmp_path: Path) -> None:
    # A fresh interpreter: this test process has usually imported the sandbox already.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("UT_", "USERTESTING_", "SNOWFLAKE_"))}
    code = (
        "import sys\n"
        f"import {PACKAGE}.definitions\n"
        f"print(sorted(m for m in sys.modules if m == '{SANDBOX}' or m.startswith('{SANDBOX}.')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "UT_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    loaded = result.stdout.strip().splitlines()[-1]
    assert loaded == "[]", f"loading the code location imported the sandbox: {loaded}"
