"""Check the package layout: no import cycle between the project's modules, no module over 600 lines.

Run from anywhere: ``python scripts/check_layout.py`` (exit 1 and a list of what is wrong, else a
one-line summary). Every import counts, including those inside functions, except those under
``if TYPE_CHECKING:``: a lazy import still makes the two modules depend on each other.

>>> from pathlib import Path
>>> graph = import_graph(Path(__file__).resolve().parent.parent)
>>> "grammars" in graph
True
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGES = ("grammars", "samplers", "drafters", "decoding")
MAX_LINES = 600


def module_name(root: Path, path: Path) -> str:
    """The dotted name of the module in ``path`` (a package's ``__init__.py`` is the package)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path) -> dict[str, Path]:
    """Every module of the project's packages, by dotted name."""
    return {
        module_name(root, path): path
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imported_modules(tree: ast.AST, name: str, is_package: bool, modules: set[str]) -> set[str]:
    """The project modules that a module imports. ``from pkg import sub`` is an import of the
    module ``pkg.sub`` when there is one, else of ``pkg``; relative imports are resolved."""
    package = name if is_package else name.rpartition(".")[0]
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            prefix = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:
                sub = f"{prefix}.{alias.name}"
                found.add(sub if sub in modules else prefix)
        stack.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in modules and m != name}


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the project modules it imports. Importing ``a.b`` does not count as importing the
    package ``a`` (its ``__init__`` re-exports are not a design dependency)."""
    modules = project_modules(root)
    return {
        name: _imported_modules(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)),
                                name, path.name == "__init__.py", set(modules))
        for name, path in modules.items()
    }


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
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
                cycles.append(sorted(component))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


def long_modules(root: Path, max_lines: int = MAX_LINES) -> list[tuple[str, int]]:
    """Modules over ``max_lines`` lines, with their line counts."""
    out = []
    for name, path in project_modules(root).items():
        n = len(path.read_text(encoding="utf-8").splitlines())
        if n > max_lines:
            out.append((str(path.relative_to(root)), n))
    return sorted(out)


def problems(root: Path) -> list[str]:
    """Every layout problem, one line each (empty when the layout is clean)."""
    found = [f"import cycle: {' <-> '.join(c)}" for c in import_cycles(import_graph(root))]
    found += [f"module over {MAX_LINES} lines: {path} ({n} lines)" for path, n in long_modules(root)]
    return found


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    found = problems(root)
    for line in found:
        print(line)
    if not found:
        print(f"layout ok: {len(project_modules(root))} modules, no import cycle, none over {MAX_LINES} lines")
    return 1 if found else 0


if __name__ == "__main__":
    raise SystemExit(main())
