"""The house rules on imports, checked on the source (an AST scan of every import, lazy ones included).

- No import circle: no module imports a module that imports it back, directly
  or through others (strongly connected components of the import graph).
- Layers flow one way: ``evolve -> fitness -> genome``, ``evolve -> genome``.
- Every import names the installed package (``evonas.genome``, never a bare ``genome``): the
  repository's folders are installed as ``evonas.genome``, ``evonas.fitness``, ``evonas.evolve``.

Module names below are the folders' (``fitness.evaluate`` is ``evonas.fitness.evaluate`` installed).
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("genome", "fitness", "evolve")
LAYER = {"genome": 0, "fitness": 1, "evolve": 2}
SCANNED = [*PACKAGES, "tests", "benchmarks", "examples", "evonas"]


def imported_names(path: Path) -> list[str]:
    """The absolute module names a file imports (relative imports left out)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names.append(node.module)
    return names


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> nx.DiGraph:
    modules = {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name.removeprefix("evonas.") for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = (node.module or "").removeprefix("evonas.")
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph.add_edge(name, target)
    return graph


def test_the_scan_sees_the_imports_it_should():
    graph = import_graph()
    assert graph.has_edge("fitness.evaluate", "fitness.trainers")
    assert graph.has_edge("fitness.trainers", "fitness.trainers.compiled")
    assert graph.has_edge("evolve.engine", "evolve.dask_engine")  # the lazy import in make_engine
    assert graph.has_edge("genome.space", "genome.layout")


def test_no_module_imports_a_module_that_imports_it_back():
    graph = import_graph()
    circles = [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]
    assert circles == [], circles


def test_imports_flow_evolve_to_fitness_to_genome():
    graph = import_graph()
    upward = [(a, b) for a, b in graph.edges if LAYER[b.split(".")[0]] > LAYER[a.split(".")[0]]]
    assert upward == [], upward


def test_the_genetic_loop_reaches_neither_the_fitness_nor_the_run_directory():
    """``evolve.loop`` is the pure ask/tell core: no training, no files, no engine (and no TensorFlow,
    checked at run time in tests/evolve/test_loop.py)."""
    graph = import_graph()
    reached = nx.descendants(graph, "evolve.loop")
    assert "evolve.selection" in reached and "genome.operators" in reached
    banned = [
        m
        for m in reached
        if m.startswith("fitness") or m in ("evolve.rundir", "evolve.engine", "evolve.search")
    ]
    assert banned == [], banned


def test_every_import_names_the_installed_package():
    bare = [
        f"{path.relative_to(ROOT)}: {name}"
        for folder in SCANNED
        for path in sorted((ROOT / folder).rglob("*.py"))
        for name in imported_names(path)
        if name.split(".")[0] in PACKAGES
    ]
    assert bare == [], bare
