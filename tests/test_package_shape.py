"""The package keeps its shape (issue 20, docs/architecture.md): no import cycle among critnet's
modules (imports inside functions count), no module over the line limit, no stray root module."""

from __future__ import annotations

import ast
from pathlib import Path

import critnet

PACKAGE = Path(critnet.__file__).parent
MAX_CODE_LINES = 300
# The root holds the package's face only; everything else lives in a subpackage.
ROOT_MODULES = {"__init__", "__main__", "errors", "video"}  # video: the README's old import path


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(path: Path, known: set[str], name: str) -> set[str]:
    """critnet modules ``path`` imports anywhere (top level or inside functions): for
    ``from A import B`` the module ``A.B`` when it is one, else ``A``."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            if not base.startswith("critnet"):
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("critnet")}
    return {m for m in found if m in known and m != name}


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imported(path, set(mods), name) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def code_lines(path: Path) -> int:
    """Lines that are not blank and not a comment (docstrings count: they are read too)."""
    return sum(1 for line in path.read_text().splitlines()
               if line.strip() and not line.strip().startswith("#"))


def test_no_import_cycle():
    assert cycles(import_graph()) == []


def test_cycle_finder_finds_a_known_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_import_finder_counts_function_level_and_from_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from critnet.io import atomic\n"
                      "def f():\n    from critnet.pipeline.fusion import fuse_tensors\n")
    known = {"critnet.io", "critnet.io.atomic", "critnet.pipeline.fusion"}
    assert imported(source, known, "critnet.x") == {"critnet.io.atomic", "critnet.pipeline.fusion"}


def test_no_module_over_the_line_limit():
    long = {name: n for name, path in modules().items() if (n := code_lines(path)) > MAX_CODE_LINES}
    assert long == {}


def test_code_line_count_skips_comments_and_blanks(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('"""Doc\nstring."""\n\n# comment\nx = 1\n\ndef f():\n    # why\n'
                      '    return x\n')
    assert code_lines(source) == 5


def test_root_holds_only_the_package_face():
    root = {p.stem for p in PACKAGE.glob("*.py")}
    assert root <= ROOT_MODULES, sorted(root - ROOT_MODULES)
