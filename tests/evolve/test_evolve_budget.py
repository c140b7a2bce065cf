"""The time budget (``search.time_budget``): durations, and the expected length of the next generation."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from evonas.evolve.budget import (
    CLOSE_SECONDS,
    SCORE_SECONDS,
    at_full_rows,
    budget_stop_line,
    end_seconds,
    folds_seconds,
    format_duration,
    makespan,
    next_generation_seconds,
    refit_seconds,
    scoring_seconds,
)
from evonas.evolve.config import ConfigError, RunConfig, default_ensemble, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("10m", 600), ("1h30m", 5400), ("2h", 7200), ("1.5m", 90), (45, 45), ("300", 300)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["abc", "0", "-3s", "", "1h30", "5 minutes", True, 0, float("nan")])
def test_a_bad_duration_is_one_line_naming_the_key(bad):
    with pytest.raises(ConfigError, match=r"^search\.time_budget must be a duration such as 90s"):
        RunConfig().with_overrides(search={"time_budget": bad})


def test_the_budget_and_the_ensemble_round_trip_through_toml(tmp_path):
    cfg = RunConfig().with_overrides(search={"time_budget": "1h30m", "ensemble": 3})
    path = tmp_path / "c.toml"
    path.write_text(cfg.dumps())
    assert RunConfig.load(path).search == cfg.search
    assert "time_budget" not in RunConfig().dumps()  # no budget: absent, as every None


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_ensemble_must_be_a_whole_number_of_at_least_one(bad):
    with pytest.raises(ConfigError, match=r"search\.ensemble must be an integer >= 1"):
        RunConfig().with_overrides(search={"ensemble": bad})


def test_makespan_hands_the_longest_first():
    assert makespan([3, 2, 2, 1], 2) == 4.0
    assert makespan([5, 1, 1, 1], 4) == 5.0
    assert makespan([], 3) == 0.0
    assert makespan([1, 1, 1], 1) == 3.0


def test_the_next_generation_is_the_larger_of_the_last_wall_time_and_the_population_trained_again():
    ind = lambda key, op="mutation": SimpleNamespace(key=key, operator=op)  # noqa: E731
    cache = {"a": {"seconds": 4.0}, "b": {"seconds": 3.0}, "c": {"seconds": 2.0}, "e": {"seconds": 50.0}}
    population = [ind("e", "elite"), ind("a"), ind("b"), ind("c")]
    assert next_generation_seconds(population, cache, 2, None) == 5.0  # elites are not trained again
    assert next_generation_seconds(population, cache, 2, 12.0) == 12.0
    assert next_generation_seconds(population, cache, 2, 1.0) == 5.0  # a fast, cached generation


def test_the_stop_line_says_how_to_continue():
    stop = {"budget": 60.0, "generation": 4, "elapsed": 52.3, "expected": 9.6, "left": 7.7}
    line = budget_stop_line(stop, "runs/x", 20)
    assert "time budget of 1 min stopped the search after generation 4 of 20, 52 s in" in line
    assert "continue with: evonas resume runs/x --time-budget DURATION" in line
    assert format_duration(5400) == "1 h 30 min" and format_duration(3.25) == "3.2 s"


def test_an_unset_ensemble_is_5_for_a_search_of_50_candidates_or_more_else_1(tmp_path):
    cfg = RunConfig()
    assert cfg.search.ensemble is None and "ensemble" not in cfg.to_dict()["search"]
    assert cfg.for_data(images=False).search.ensemble == 5  # the demo: 10 x (5 + 1) = 60 candidates
    assert cfg.for_data(images=True).search.ensemble == 5
    small = cfg.with_overrides(search={"population": 7, "generations": 6})  # 49 candidates
    assert small.for_data(images=False).search.ensemble == 1
    assert default_ensemble(10, 4) == 5 and default_ensemble(2, 24) == 5 and default_ensemble(4, 2) == 1
    chosen = cfg.with_overrides(search={"ensemble": 1})  # given, it is kept as given
    assert chosen.for_data(images=False).search.ensemble == 1
    # the resolved value is what a run saves; a run saved before search.ensemble existed keeps its single best
    path = tmp_path / "config.toml"
    path.write_text(cfg.for_data(images=False).dumps())
    assert RunConfig.load_saved(path).search.ensemble == 5
    path.write_text(cfg.dumps())
    assert RunConfig.load_saved(path).search.ensemble == 1


def test_the_refits_after_the_search_are_reserved_from_the_trainings_they_repeat():
    """Issue 35: a refit repeats a training for its best epochs on more rows; they run one after the other."""
    stopped_early = {"status": "ok", "seconds": 20.0, "epochs": 10, "best_epoch": 6}  # 2 s an epoch
    assert refit_seconds([stopped_early], 1.0) == pytest.approx(12.0)  # 6 epochs
    assert refit_seconds([stopped_early], 85 / 70) == pytest.approx(12.0 * 85 / 70)  # train+val rows
    folds = [stopped_early, {"status": "ok", "seconds": 40.0, "epochs": 10, "best_epoch": 10}]
    assert refit_seconds(folds, 1.0) == pytest.approx(3.0 * 8)  # the mean epoch cost, the mean best epoch
    assert refit_seconds([{"status": "failed", "seconds": 1.0, "epochs": 0}], 1.0) == 0.0
    assert end_seconds([12.0, 5.0, 3.0], scoring=1.0) == 21.0
    # then the delivered models scored on the test rows and the engine closed (measured constants)
    assert scoring_seconds(6) == CLOSE_SECONDS + 6 * SCORE_SECONDS and scoring_seconds(0) == CLOSE_SECONDS
    # a row sample's training (multi-fidelity on a large table) counts as if it had fitted every row
    # (as many steps: its 8 best epochs on 5,000 rows are 2 on 20,000, each 4 times as long)
    sample = {**stopped_early, "best_epoch": 8, "row_cap": 5_000}
    assert refit_seconds([at_full_rows(sample, 20_000)], 1.0) == pytest.approx(2 * 4 * 2.0)
    assert at_full_rows(stopped_early, 20_000) is stopped_early
    # cross-validated: the fold models the race did not train, each as long as the network's trainings
    assert folds_seconds(folds, 3) == pytest.approx(90.0)
    assert folds_seconds(folds, 0) == 0.0 and folds_seconds([], 3) == 0.0
    stop = {"budget": 300.0, "generation": 3, "elapsed": 200.0, "expected": 60.0, "end": 45.0, "left": 100.0}
    line = budget_stop_line(stop, "runs/x", float("inf"))
    assert "after generation 3, 3 min 20 s in" in line
    assert "the next generation was expected to take 1 min and the end after it 45 s" in line
    assert "(without --time-budget, up to generation 5)" in line
