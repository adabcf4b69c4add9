"""No import circles between the package's modules, counting the imports inside functions too (a function-level
import only hides a circle: the two modules still need each other). Imports under `if TYPE_CHECKING:` are for
annotations only and do not count."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "golong_data"


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        name = ".".join(p.relative_to(PKG.parent).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    return mods


def _imports(tree: ast.AST, mods: dict[str, Path]) -> set[str]:
    out: set[str] = set()
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            out |= _imports(ast.Module(body=node.orelse, type_ignores=[]), mods)
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("golong_data"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in mods else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("golong_data")}
        out |= _imports(node, mods)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_circles() -> None:
    mods = _modules()
    # A package importing its own submodules (golong_data.rewards -> .router) is how packages are built, not a circle.
    graph = {m: {d for d in _imports(ast.parse(p.read_text()), mods) if d in mods and d != m
                 and not d.startswith(m + ".")} for m, p in mods.items()}
    assert _cycles(graph) == []


def test_the_check_sees_a_circle_hidden_in_a_function() -> None:
    mods = {"golong_data.a": Path("a"), "golong_data.b": Path("b")}
    a = ast.parse("from golong_data.b import x\n")
    b = ast.parse("def f():\n    from golong_data.a import y\n")
    graph = {"golong_data.a": _imports(a, mods), "golong_data.b": _imports(b, mods)}
    assert _cycles(graph) == [["golong_data.a", "golong_data.b"]]
