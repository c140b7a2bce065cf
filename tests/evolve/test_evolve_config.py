"""Run configuration: TOML round trip, validation, unknown keys rejected by name."""

from __future__ import annotations

import pytest

from evonas.evolve.config import ConfigError, RunConfig
from evonas.genome import SearchSpace


def test_toml_round_trip(tmp_path):
    cfg = RunConfig().with_overrides(
        data={"dataset": "digits", "split": [0.6, 0.2, 0.2]},
        search={"population": 6, "seed": 9, "crossover": "two_point"},
        training={"max_epochs": 7},
        space={"max_levels": 2, "neuron_choices": [8, 16]},
    )
    path = tmp_path / "c.toml"
    path.write_text(cfg.dumps())
    back = RunConfig.load(path)
    assert back == cfg
    assert back.space == SearchSpace(max_levels=2, neuron_choices=(8, 16))
    assert back.data.split == (0.6, 0.2, 0.2)


@pytest.mark.parametrize(
    ("tables", "message"),
    [
        ({"search": {"populaton": 3}}, "unknown key 'search.populaton'"),
        ({"data": {"datset": "x"}}, "unknown key 'data.datset'"),
        ({"training": {"epochs": 3}}, "unknown key 'training.epochs'"),
        ({"space": {"levels": 3}}, "space.levels"),
        ({"serach": {}}, "unknown table '[serach]'"),
        ({"search": {"population": 1}}, "search.population must be an integer >= 2"),
        ({"search": {"generations": -1}}, "search.generations"),
        ({"search": {"workers": -2}}, "search.workers"),
        ({"search": {"workers": 0}}, "search.workers must be an integer >= 1"),
        ({"search": {"elites": 5, "population": 5}}, "search.elites must be < population"),
        ({"search": {"crossover_probability": 1.5}}, "search.crossover_probability"),
        ({"search": {"engine": "spark"}}, "search.engine"),
        ({"data": {"split": [0.5, 0.2, 0.2]}}, "must sum to 1"),
        ({"data": {"split": [0.8, 0.2]}}, "three positive fractions"),
        ({"data": {"task": "ranking"}}, "data.task"),
        ({"space": {"max_levels": 0}}, "space.max_levels"),
        ({"search": {"population": "8"}}, "search.population"),
        ({"data": {"images": "yes"}}, "data.images must be true or false"),
        ({"search": {"textbook": 1}}, "search.textbook must be true or false"),
        ({"search": {"multi_fidelity": "rows"}}, 'search.multi_fidelity must be true, false or "auto"'),
        ({"search": {"replicates": 0}}, "search.replicates must be an integer >= 1"),
        ({"search": {"refit": "yes"}}, 'search.refit must be true, false, "rows" or "folds"'),
        ({"search": {"refit": "folds"}}, 'search.refit = "folds" needs search.folds > 1'),
        ({"search": {"ensemble_weights": "best"}}, "search.ensemble_weights must be one of greedy, equal"),
        ({"space": {"max_conv_levels": -1}}, "space.max_conv_levels must be >= 0"),
    ],
)
def test_invalid_configuration_names_the_key(tables, message):
    with pytest.raises(ConfigError) as err:
        RunConfig.from_dict(tables)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        RunConfig.load(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[search\npopulation = 3")
    with pytest.raises(ConfigError, match="invalid TOML"):
        RunConfig.load(bad)


def test_examples_load():
    from pathlib import Path

    examples = sorted(Path(__file__).parents[2].joinpath("examples").glob("*.toml"))
    assert examples, "examples/*.toml missing"
    for path in examples:
        RunConfig.load(path)


def test_for_data_sets_the_conv_levels_and_the_textbook_start(tmp_path):
    cfg = RunConfig()
    assert cfg.space.max_conv_levels is None and cfg.search.textbook is None
    images = cfg.for_data(images=True)
    assert images.space.max_conv_levels == 4 and images.search.textbook is True
    table = cfg.for_data(images=False)
    assert table.space.max_conv_levels == 0 and table.search.textbook is False
    assert table.space.layout.size == cfg.space.layout.size == 228
    # what the user set stays; the saved configuration reads back the same
    mine = cfg.with_overrides(search={"textbook": False}, space={"max_conv_levels": 2}).for_data(images=True)
    assert mine.space.max_conv_levels == 2 and mine.search.textbook is False
    path = tmp_path / "c.toml"
    path.write_text(images.dumps())
    assert RunConfig.load(path) == images
    with pytest.raises(ConfigError, match="max_conv_levels = 2 needs image data"):
        cfg.with_overrides(space={"max_conv_levels": 2}).for_data(images=False)


def _table(rows: int):
    import numpy as np
    import pandas as pd

    from evonas.fitness import load_dataset

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=rows), "w": rng.normal(size=rows)})
    frame["y"] = frame["x"] * 2 + rng.normal(size=rows)
    return load_dataset(frame, "y")


def test_a_run_adapts_to_the_rows_a_training_fits_and_saves_what_it_decided(tmp_path):
    from evonas.evolve.config import for_dataset
    from evonas.fitness import fitted_rows
    from evonas.genome.space import batch_scale_for

    small, large = _table(600), _table(100_000)  # 70,000 train rows: the choices x2
    assert for_dataset(RunConfig(), small).space.batch_scale == 1
    cfg = for_dataset(RunConfig(), large)
    assert cfg.space.batch_scale == 2 and cfg.space.batches[0] == 32
    # a large table's generation 0 starts from the textbook network too, unless the user says not to
    assert cfg.search.textbook is True and for_dataset(RunConfig(), small).search.textbook is False
    assert for_dataset(RunConfig().with_overrides(search={"textbook": False}), large).search.textbook is False
    # folds: a training fits the other folds' rows of train+val
    folds = for_dataset(RunConfig().with_overrides(search={"folds": 5}), large).space.batch_scale
    assert folds == batch_scale_for(fitted_rows(large, 5)) == batch_scale_for(68_000)
    # what the user set stays, and the saved configuration reads back the same (resume keeps it)
    assert for_dataset(RunConfig().with_overrides(space={"batch_scale": 1}), large).space.batch_scale == 1
    path = tmp_path / "c.toml"
    path.write_text(cfg.dumps())
    assert RunConfig.load_saved(path) == cfg == for_dataset(RunConfig.load_saved(path), small)


def test_a_saved_configuration_from_before_the_scale_reads_as_unscaled(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(RunConfig().for_data(images=False).dumps())
    assert "batch_scale" not in path.read_text()
    assert RunConfig.load_saved(path).space.batch_scale == 1
