"""The shape of the package: no import cycle, stages import only earlier stages, nothing
imports the CLI, and no function is longer than 80 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import reviewmine

PACKAGE = Path(reviewmine.__file__).resolve().parent
STAGES = ("collect", "process", "analyze", "report")
"""Pipeline order: a stage may import the stages before it, never one after it."""
MAX_FUNCTION_LINES = 80
# Functions over the limit in modules other engineers are splitting right now (issue 12):
# remove each entry as its function is split; the test fails on any function not listed, and
# on an entry that is no longer too long (so the list only shrinks).


def _modules() -> dict[str, Path]:
    modules = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package modules ``name`` imports, at top level or inside functions."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # "from a import b" imports module a.b when there is one, else a's attribute b
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that ends where it starts), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            # a package's __init__ importing its own submodules is how it exports them
            if nxt.startswith(node + "."):
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def _stage(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in STAGES else None


def test_the_import_graph_sees_function_level_and_relative_imports():
    graph = _graph()
    assert "reviewmine.process" in graph["reviewmine.explore.build"]  # imported inside a function
    assert "reviewmine.analyze.pipeline" in graph["reviewmine.analyze"]


def test_find_cycle_finds_a_cycle_and_only_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_package_has_no_import_cycle():
    assert _find_cycle(_graph()) is None


def test_stages_import_only_earlier_stages_and_nothing_imports_the_cli():
    wrong = []
    for module, imported in _graph().items():
        for target in imported:
            if target == "reviewmine.cli":
                wrong.append(f"{module} imports the CLI")
            if target == "reviewmine.workflow" and module != "reviewmine.cli":
                wrong.append(f"{module} imports the workflows, which import every stage")
            here, there = _stage(module), _stage(target)
            if here and there and STAGES.index(there) > STAGES.index(here):
                wrong.append(f"{module} ({here}) imports {target} ({there}), a later stage")
    assert not wrong, "\n".join(sorted(wrong))


def _long_functions() -> dict[str, int]:
    """Qualified name -> lines, for every function (or method) longer than the limit."""
    found: dict[str, int] = {}
    for name, path in _modules().items():
        _collect_long(ast.parse(path.read_text(encoding="utf-8")), name, found)
    return found


def _collect_long(node: ast.AST, prefix: str, found: dict[str, int]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            qualified = f"{prefix}.{child.name}"
            lines = child.end_lineno - child.lineno + 1
            if not isinstance(child, ast.ClassDef) and lines > MAX_FUNCTION_LINES:
                found[qualified] = lines
            _collect_long(child, qualified, found)


def test_no_function_is_longer_than_80_lines():
    long = _long_functions()
    assert not long, f"split these into named steps (at most {MAX_FUNCTION_LINES} lines each): {long}"
