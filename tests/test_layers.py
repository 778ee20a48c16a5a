"""The domains depend on each other one way, downward (../shared/STYLE.md, convention 9).

Walks ``academy/`` with ``ast``: every import, at module level or inside a function, is an
edge from the package (or top-level module) that holds it to the one it names. The checks:
no cycle between them; no domain imports one at its own level or above it (catalog and
accounts at the bottom, learning above them, badges above learning, the pages above all);
notifications, the mail leaf, and the shared core modules import no domain; and no import
between domains hides inside a function, where it would slip past a reader.

``python tests/test_layers.py [ACADEMY_DIR]`` prints the graph and what breaks the rules.
"""
from __future__ import annotations

import ast
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

ACADEMY = Path(__file__).resolve().parent.parent / "academy"

# Higher imports lower, never the other way; equal ranks do not import each other.
RANK = {"catalog": 1, "accounts": 1, "learning": 2, "badges": 3, "web": 4}
LEAVES = {"notifications"}  # any domain may call it; it imports none
DOMAINS = set(RANK) | LEAVES
# The composition roots: they build the app from every domain, and nothing imports them.
ROOTS = {"academy", "academy.models"}


@dataclass(frozen=True)
class Import:
    source: str  # the importing unit: a domain package name or a top-level module name
    target: str
    file: str
    line: int
    in_function: bool


def _unit(module: str) -> str:
    """``academy.learning.service`` → ``learning``; ``academy.errors`` → ``errors``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_of(path: Path, root: Path) -> str:
    relative = path.relative_to(root.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name.split(".")[0] == "academy"]
    if node.level == 0:
        return [node.module] if node.module and node.module.split(".")[0] == "academy" else []
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    if node.module:
        return [".".join([*base, node.module])]
    return [".".join([*base, alias.name]) for alias in node.names]


class _Visitor(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool, file: str) -> None:
        self.module, self.is_package, self.file = module, is_package, file
        self.depth = 0
        self.found: list[Import] = []

    def _function(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _import(self, node) -> None:
        source = self.module
        for target in _targets(node, self.module, self.is_package):
            self.found.append(Import(source, target, self.file, node.lineno, self.depth > 0))

    visit_Import = visit_ImportFrom = _import


def imports(root: Path = ACADEMY) -> list[Import]:
    """Every import of an ``academy`` module in the tree at ``root``, as module names."""
    found = []
    for path in sorted(root.rglob("*.py")):
        module = _module_of(path, root)
        visitor = _Visitor(module, path.name == "__init__.py", str(path.relative_to(root.parent)))
        visitor.visit(ast.parse(path.read_text(), str(path)))
        found += visitor.found
    return found


def unit_graph(found: list[Import]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for edge in found:
        if edge.source in ROOTS:
            continue
        source, target = _unit(edge.source), _unit(edge.target)
        graph.setdefault(source, set())
        if source != target and target != "academy":
            graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one unit (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def violations(found: list[Import]) -> list[str]:
    """Every import that breaks the layering, as ``file:line: why``."""
    problems = []
    for edge in found:
        if edge.source in ROOTS:
            continue
        source, target = _unit(edge.source), _unit(edge.target)
        if source == target or target not in DOMAINS:
            continue
        where = f"{edge.file}:{edge.line}: {edge.source} imports {edge.target}"
        if edge.in_function:
            problems.append(f"{where} inside a function (a hidden edge between domains)")
        if source in LEAVES or source not in DOMAINS:
            kind = "the mail leaf" if source in LEAVES else "a shared core module"
            problems.append(f"{where}: {source} is {kind} and imports no domain")
        elif target in LEAVES:
            continue
        elif RANK[target] >= RANK[source]:
            problems.append(f"{where}: {target} is not below {source}; send a signal instead "
                            "(academy/signals.py)")
    for component in cycles(unit_graph(found)):
        problems.append(f"import cycle between {' → '.join(component)}")
    return problems


def graph_text(root: Path = ACADEMY) -> str:
    graph = unit_graph(imports(root))
    return "\n".join(f"{unit:<14} → {', '.join(sorted(targets)) or '-'}"
                     for unit, targets in sorted(graph.items()))


def test_the_domains_depend_one_way_with_no_hidden_imports():
    problems = violations(imports())
    assert not problems, "\n".join(problems)


def test_every_domain_is_in_the_layering():
    packages = {p.name for p in ACADEMY.iterdir() if (p / "__init__.py").exists()}
    assert packages == DOMAINS, f"add {packages - DOMAINS} to RANK or LEAVES, or drop {DOMAINS - packages}"


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "academy" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root / "academy"


def test_the_check_finds_a_cycle_a_hidden_import_and_an_upward_one(tmp_path):
    # Today's shape before the signals: learning called badges, badges read learning, and
    # notifications reached into badges from inside a function.
    tree = _tree(tmp_path, {
        "__init__.py": "",
        "errors.py": "",
        "learning/__init__.py": "",
        "learning/service.py": "from ..badges import service as badges\nfrom ..errors import X\n",
        "badges/__init__.py": "",
        "badges/service.py": "from ..learning.models import Enrollment\n",
        "notifications/__init__.py": "",
        "notifications/emails.py": """
            def badge_earned():
                from ..badges.service import next_track_after
        """,
    })
    problems = violations(imports(tree))
    assert any("import cycle between badges → learning" in p for p in problems), problems
    assert any("learning/service.py:1" in p and "not below learning" in p for p in problems)
    assert any("notifications/emails.py:3" in p and "inside a function" in p for p in problems)
    assert any("notifications/emails.py:3" in p and "mail leaf" in p for p in problems)
    assert not any("errors" in p for p in problems)


if __name__ == "__main__":
    tree = Path(sys.argv[1]) if len(sys.argv) > 1 else ACADEMY
    print(graph_text(tree))
    broken = violations(imports(tree))
    print("\n".join(broken) or "no layering problem")
    sys.exit(1 if broken else 0)
