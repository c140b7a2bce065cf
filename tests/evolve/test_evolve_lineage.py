"""Lineage and report on a constructed run directory (no training): exact words, graphs, DOT, pictures."""

from __future__ import annotations

import matplotlib.image as mpimg
import networkx as nx
import pydot
import pytest

from evonas.evolve.cli import main
from evonas.evolve.config import RunConfig
from evonas.evolve.lineage import Lineage, ancestry, genealogy, genealogy_edges
from evonas.evolve.report import operator_gains
from evonas.evolve.rundir import RunDir, RunDirError
from evonas.genome import SearchSpace, decode, diff
from tests.conftest import make_genes

SPACE = SearchSpace(max_levels=3, max_units=3)
N64, N128 = SPACE.neuron_choices.index(64), SPACE.neuron_choices.index(128)
LR_1E3, LR_3E3 = SPACE.learning_rates.index(1e-3), SPACE.learning_rates.index(3e-3)

# a parent (2 levels of 2 units of 64) and its child: one unit wider, one lateral edge, a faster rate
PARENT = make_genes(
    SPACE,
    n_levels=2,
    n_units=(2, 2),
    neurons=dict.fromkeys([(0, 0), (0, 1), (1, 0), (1, 1)], N64),
    learning_rate=LR_1E3,
)
CHILD = make_genes(
    SPACE,
    base=PARENT,
    n_levels=2,
    neurons={(1, 1): N128},
    laterals=[((1, 0), (1, 1))],
    learning_rate=LR_3E3,
)
OTHER = make_genes(SPACE, n_levels=1, n_units=(3,), neurons=dict.fromkeys([(0, 0), (0, 1), (0, 2)], N64))
MIXED = make_genes(SPACE, base=CHILD, n_levels=2, n_units=(3, 2), skips=[((0, 2), (1, 0))])
EXPECTED = ["level 1 unit 1: 64 -> 128 neurons", "+ lateral L1U0 -> L1U1", "learning rate 1e-3 -> 3e-3"]


def row(id, generation, parents, operator, genes, objective, cached=False, status="ok"):
    return {
        "id": id,
        "generation": generation,
        "parents": parents,
        "operator": operator,
        "genes": genes.tolist(),
        "key": decode(SPACE, genes).key,
        "objective": objective,
        "status": status,
        "cached": cached,
        "params": 1000 + id,
        "error": None if status == "ok" else "NaN loss",
    }


ROWS = [
    row(0, 0, [], "init", PARENT, 0.5),
    row(1, 0, [], "init", OTHER, 0.8),
    row(2, 1, [0], "mutation", CHILD, 0.3),
    row(3, 1, [1], "mutation", CHILD, 0.3, cached=True),  # a duplicate of #2's architecture
    row(4, 2, [2], "elite", CHILD, 0.3, cached=True),
    row(5, 2, [2, 1], "crossover", MIXED, 0.25),
    row(6, 2, [1, 0], "crossover+mutation", OTHER, None, status="failed"),
]


@pytest.fixture
def run_dir(tmp_path):
    run = RunDir.create(tmp_path / "run", RunConfig(space=SPACE))
    run.append_individuals(ROWS)
    run.write_json("data.json", {"task": "classification"})
    return run.path


@pytest.fixture
def lin():
    return Lineage(ROWS, SPACE, task="regression")


def test_the_diff_of_a_constructed_parent_child_pair_word_for_word(lin):
    assert diff(decode(SPACE, PARENT), decode(SPACE, CHILD)) == EXPECTED
    assert lin.changes(2) == {0: EXPECTED}
    parent_arch, child_arch = (decode(SPACE, g).describe() for g in (PARENT, CHILD))
    assert lin.tree_text([2]) == "\n".join(
        [
            "Lineage of #2 (val RMSE 0.3, 1,002 params)",
            "#2  gen 1  mutation  val RMSE 0.3",
            f"│  architecture: {child_arch}",
            "│  changes: level 1 unit 1: 64 -> 128 neurons; + lateral L1U0 -> L1U1; "
            "learning rate 1e-3 -> 3e-3",
            "└─ #0  gen 0  init  val RMSE 0.5",
            f"      architecture: {parent_arch}",
        ]
    )


def test_the_cli_prints_the_same_words_with_the_runs_objective_name(run_dir, capsys):
    assert main(["lineage", str(run_dir), "--id", "2"]) == 0
    out = capsys.readouterr().out
    assert "#2  gen 1  mutation  val loss 0.3\n" in out
    assert "│  changes: " + "; ".join(EXPECTED) + "\n" in out
    assert "└─ #0  gen 0  init  val loss 0.5\n" in out


def test_crossover_elite_and_cached_duplicates_are_shown_as_such(lin):
    text = lin.tree_text([5, 4, 3, 6])
    assert "#5  gen 2  crossover  val RMSE 0.25" in text
    assert "from #2: " + "; ".join(diff(decode(SPACE, CHILD), decode(SPACE, MIXED))) in text
    assert "from #1: " in text
    assert "#4  gen 2  elite  val RMSE 0.3  [elite: copy of #2, cached]" in text
    assert "#3  gen 1  mutation  val RMSE 0.3  [cached: same architecture as #2]" in text
    assert "#6  gen 2  crossover+mutation  val RMSE failed  [failed: NaN loss]" in text
    # #5 reaches #0 through #2 and #1 is its second parent; #1 appears once per tree, expanded once
    tree5 = text.split("\n\n")[0]
    assert tree5.startswith("1. Lineage of #5 (val RMSE 0.25, 1,005 params)")
    assert tree5.count("#1  gen 0  init") == 1 and tree5.count("#0  gen 0  init") == 1


def test_an_ancestor_reached_twice_is_expanded_once():
    rows = [*ROWS, row(7, 3, [5, 2], "crossover", MIXED, 0.25, cached=True)]
    text = Lineage(rows, SPACE).tree_text([7])
    assert text.count("#2  gen 1  mutation") == 2
    assert text.count("(shown above)") == 1


def test_ancestry_frame_has_every_ancestor_with_steps_changes_and_cache_links(lin, run_dir):
    table = lin.ancestry(5)
    assert table["id"].tolist() == [5, 2, 0, 1]  # newest first, then by id
    assert dict(zip(table["id"], table["steps"])) == {5: 0, 2: 1, 1: 1, 0: 2}
    assert table.set_index("id").loc[2, "changes"] == {0: EXPECTED}
    assert table.set_index("id").loc[0, "changes"] == {}
    assert lin.ancestry(3).set_index("id").loc[3, "same_as"] == 2
    assert lin.ancestry(5, depth=1)["id"].tolist() == [5, 2, 1]
    assert ancestry(run_dir, 5)["id"].tolist() == [5, 2, 0, 1]  # the API on a run directory


def test_depth_limit_says_what_it_left_out(lin):
    text = lin.tree_text([5], depth=1)
    assert "#0  gen 0" not in text
    assert "... parents #0 not shown (--depth 1)" in text


def test_genealogy_graph_and_edge_list(lin, run_dir):
    edges = [
        (0, 2, "mutation"),
        (1, 3, "mutation"),
        (2, 4, "elite"),
        (2, 5, "crossover"),
        (1, 5, "crossover"),
    ]
    edges += [(1, 6, "crossover+mutation"), (0, 6, "crossover+mutation")]
    assert lin.edges() == edges == genealogy_edges(run_dir)
    g = genealogy(run_dir)
    assert isinstance(g, nx.DiGraph) and sorted(g.nodes) == list(range(7))
    assert g.edges[2, 5] == {"operator": "crossover", "role": "first"}
    assert g.edges[1, 5]["role"] == "second"
    assert g.nodes[3]["cached"] is True and "genes" not in g.nodes[3]
    assert nx.ancestors(g, 5) == {0, 1, 2}


def test_best_ids_are_distinct_architectures_best_first(lin):
    assert lin.best_ids(10) == [5, 2, 0, 1]


def test_dot_parses_and_holds_the_ancestry(lin, tmp_path):
    text = lin.to_dot([5])
    (graph,) = pydot.graph_from_dot_data(text)
    g = nx.nx_pydot.from_pydot(graph)
    nodes = {n for n in g.nodes if n.startswith("n")}
    assert nodes == {"n5", "n2", "n0", "n1"}
    assert {(u, v) for u, v, _ in g.edges} == {("n0", "n2"), ("n2", "n5"), ("n1", "n5")}
    assert g.edges["n2", "n5", 0]["label"].strip('"') == "crossover"
    assert "#5  gen 2\\nval RMSE 0.25\\n" + decode(SPACE, MIXED).describe() in text


def test_png_of_the_tree_is_a_real_image(lin, tmp_path):
    path = lin.draw([5, 3], tmp_path / "tree.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    h, w, _ = mpimg.imread(path).shape
    assert w > 300 and h > 150


def test_cli_writes_dot_and_png(run_dir, tmp_path, capsys):
    dot, png = tmp_path / "l.dot", tmp_path / "l.png"
    assert main(["lineage", str(run_dir), "--best", "2", "--dot", str(dot), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. Lineage of #5") and "\n2. Lineage of #2" in out
    assert pydot.graph_from_dot_data(dot.read_text()) and mpimg.imread(png).ndim == 3


@pytest.mark.parametrize(
    "extra",
    [["--id", "99"], ["--id", "-1"], ["--best", "0"], ["--best", "1", "--id", "2"]],
)
def test_bad_lineage_arguments_exit_2_with_one_line_and_write_nothing(run_dir, tmp_path, capsys, extra):
    dot = tmp_path / "x.dot"
    assert main(["lineage", str(run_dir), *extra, "--dot", str(dot)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("evonas: error: ") and err.count("\n") == 1
    assert not dot.exists()


def test_unknown_id_names_the_range(run_dir, capsys):
    assert main(["lineage", str(run_dir), "--id", "99"]) == 2
    assert "no individual with id 99" in capsys.readouterr().err


@pytest.mark.parametrize("flag", ["--dot", "--png"])
def test_unwritable_output_exits_2_and_writes_nothing(run_dir, tmp_path, capsys, flag):
    other = tmp_path / "ok.dot"
    args = ["lineage", str(run_dir), "--dot" if flag == "--png" else "--png", str(other)]
    assert main([*args, flag, str(tmp_path / "missing" / "x")]) == 2
    assert main(["lineage", str(run_dir), flag, str(tmp_path)]) == 2  # a directory
    assert f"cannot write {flag}" in capsys.readouterr().err
    assert not other.exists()


def test_lineage_of_an_empty_run_is_a_user_error(tmp_path, capsys):
    run = RunDir.create(tmp_path / "empty", RunConfig(space=SPACE))
    with pytest.raises(RunDirError, match="no individuals yet"):
        Lineage.load(run.path)
    assert main(["report", str(run.path)]) == 2


def test_operator_gains_count_children_that_beat_their_parents(lin):
    gains = operator_gains(lin).set_index("operator")
    # #2 (0.3) beat #0 (0.5) and all of generation 0; so did #3 (0.3 < 0.8, a cached duplicate of #2)
    assert gains.loc["mutation"].tolist()[:3] == [2, 2, 2]
    assert gains.loc["crossover"].tolist()[:3] == [1, 1, 1]
    assert gains.loc["crossover+mutation"].tolist()[:3] == [1, 0, 0]
    assert gains["share"].sum() == pytest.approx(1.0)


def test_report_writes_real_pngs_and_an_html_page_that_shows_them(run_dir, capsys):
    assert main(["report", str(run_dir)]) == 0
    folder = run_dir / "report"
    names = ["fitness.png", "diversity.png", "best_architecture.png", "lineage.png", "operators.png"]
    html = (folder / "report.html").read_text()
    for name in names:
        assert mpimg.imread(folder / name).ndim == 3
        assert f'src="{name}"' in html
    assert "Lineage of #5" in html and "validation cross-entropy" in html
    assert "report.html" in capsys.readouterr().out
