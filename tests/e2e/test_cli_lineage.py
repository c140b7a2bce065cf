"""End to end: `evonas lineage` and `evonas report` on a real tiny run that was stopped and resumed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import networkx as nx
import pydot
import pytest

from evonas.evolve.lineage import Lineage
from evonas.genome import decode, diff
from tests.e2e.conftest import copy_run, evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)


@pytest.fixture(scope="module")
def run(digits_resumed) -> Path:
    """Generation 0 and 1 in one process, generation 2 after `evonas resume` (shared: conftest.py)."""
    return digits_resumed[1]


def rows(run: Path) -> dict[int, dict]:
    lines = (run / "individuals.jsonl").read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, filter(None, lines))}


def test_lineage_of_the_best_reaches_generation_0_and_names_only_real_ids(run, tmp_path):
    dot, png = tmp_path / "best.dot", tmp_path / "best.png"
    res = evonas("lineage", str(run), "--best", "2", "--dot", str(dot), "--png", str(png))
    assert res.returncode == 0, res.stderr
    known = rows(run)
    named = {int(i) for i in re.findall(r"#(\d+)", res.stdout)}
    assert named and named <= set(known)
    trees = res.stdout.split("\n\n")
    for tree in trees[:2]:
        assert re.search(r"#\d+  gen 0  init ", tree), tree
    lin = Lineage.load(run)
    for best in lin.best_ids(2):
        table = lin.ancestry(best)
        assert table["generation"].min() == 0
        assert all(p in known for ps in table["parents"] for p in ps)


def test_printed_changes_match_the_genes(run):
    lin = Lineage.load(run)
    space = lin.space
    checked = 0
    for i in lin.rows:
        res_tree = lin.tree_text([i])
        for p in dict.fromkeys(lin.parents(i)):
            words = diff(decode(space, lin.rows[p]["genes"]), decode(space, lin.rows[i]["genes"]))
            if lin.rows[i]["operator"] == "elite":
                assert words == [] and "[elite: copy of" in res_tree
            elif len(lin.parents(i)) == 1 and 0 < len(words) <= 6:
                assert "│  changes: " + "; ".join(words) + "\n" in res_tree
                checked += 1
    assert checked > 0


def test_lineage_spans_the_resume(run):
    known = rows(run)
    assert {r["generation"] for r in known.values()} == {0, 1, 2}
    g = Lineage.load(run).graph()
    last = [i for i, r in known.items() if r["generation"] == 2 and r["operator"] != "elite"]
    assert last
    for i in last:
        assert {known[a]["generation"] for a in nx.ancestors(g, i)} == {0, 1}


def test_dot_parses_and_png_is_a_picture(run, tmp_path):
    dot, png = tmp_path / "l.dot", tmp_path / "l.png"
    res = evonas("lineage", str(run), "--dot", str(dot), "--png", str(png), "--depth", "1")
    assert res.returncode == 0, res.stderr
    (graph,) = pydot.graph_from_dot_data(dot.read_text())
    g = nx.nx_pydot.from_pydot(graph)
    ids = {int(n[1:]) for n in g.nodes if re.fullmatch(r"n\d+", n)}
    best = Lineage.load(run).best_ids(1)[0]
    assert ids == set(Lineage.load(run).ancestors(best, depth=1))
    h, w, _ = mpimg.imread(png).shape
    assert h > 100 and w > 200


def test_report_writes_the_plots_and_the_page(run, tmp_path):
    run = copy_run(run, tmp_path / "run")  # the report goes into the run directory: not the shared one
    res = evonas("report", str(run))
    assert res.returncode == 0, res.stderr
    folder = run / "report"
    page = (folder / "report.html").read_text()
    for name in ("fitness", "diversity", "best_architecture", "lineage", "operators"):
        assert mpimg.imread(folder / f"{name}.png").ndim == 3
        assert f'src="{name}.png"' in page


def test_show_points_to_lineage_and_report(run):
    res = evonas("show", str(run))
    assert res.returncode == 0, res.stderr
    assert f"evonas lineage {run}" in res.stdout and f"evonas report {run}" in res.stdout


def test_unknown_id_and_unwritable_dot_exit_2_and_write_nothing(run, tmp_path):
    dot = tmp_path / "x.dot"
    res = evonas("lineage", str(run), "--id", "100000", "--dot", str(dot))
    assert res.returncode == 2 and res.stderr.startswith("evonas: error: no individual with id 100000")
    assert not dot.exists() and res.stdout == ""
    res = evonas("lineage", str(run), "--dot", str(tmp_path / "no" / "such" / "dir.dot"))
    assert res.returncode == 2 and "cannot write --dot" in res.stderr
