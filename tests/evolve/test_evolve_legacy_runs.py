"""A run directory written before the genes of issue 18 existed still reads, shows and resumes."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import tomli_w
import tomllib

from evonas import RunConfig, RunResult, resume_search, run_search
from evonas.evolve.config import LEGACY_SPACE
from evonas.evolve.rundir import RunDir
from evonas.genome import decode


def _as_format_1(path) -> None:
    """Rewrite a run's checkpoint as evonas wrote it before its runner asked ``GeneticLoop`` (format 1)."""
    cp = json.loads((path / "checkpoint.json").read_text())
    loop = cp["loop"]
    rows = RunDir.open(path).individuals()
    first: dict[str, dict] = {}
    for r in rows:
        if r["status"] == "ok":
            first.setdefault(r["key"], r)
    hall_of_fame = sorted(first.values(), key=lambda r: (r["objective"], r["id"]))[:5]
    old = {
        "format": 1,
        "generation": loop["generation"],
        "next_id": loop["next_individual"],
        "population": loop["pool"],
        "hall_of_fame": hall_of_fame,
        "rng": loop["rng"],
        "best_key": cp["best_key"],
        "data_fingerprint": cp["data_fingerprint"],
    }
    (path / "checkpoint.json").write_text(json.dumps(old))


def _strip(path, drop: int) -> None:
    """Rewrite a run as the older evonas wrote it: no new space keys, genomes ``drop`` genes shorter."""
    _as_format_1(path)
    config = tomllib.loads((path / "config.toml").read_text())
    for key in LEGACY_SPACE:
        del config["space"][key]
    (path / "config.toml").write_text(tomli_w.dumps(config))
    lines = [json.loads(line) for line in (path / "individuals.jsonl").read_text().splitlines()]
    for row in lines:
        row["genes"] = row["genes"][:-drop]
    (path / "individuals.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    cp = json.loads((path / "checkpoint.json").read_text())
    for row in cp["population"] + cp["hall_of_fame"]:
        row["genes"] = row["genes"][:-drop]
    (path / "checkpoint.json").write_text(json.dumps(cp))


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_an_old_run_reads_with_its_old_space_and_resumes(tmp_path):
    legacy = {k: v for k, v in LEGACY_SPACE.items()}
    config = RunConfig().with_overrides(
        data={"dataset": "digits"},
        search={"population": 3, "generations": 1, "engine": "serial", "seed": 2, "refit": False},
        training={"max_epochs": 2, "patience": 1},
        space={"max_levels": 2, "max_units": 2, **legacy},  # the space an old run searched
    )
    run = tmp_path / "old"
    run_search(config, run, progress=False, log=lambda line: None)
    before = RunDir.open(run).individuals()
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    _strip(copy, len(LEGACY_SPACE))

    old = RunDir.open(copy)
    assert all(getattr(old.config().space, k) == tuple(v) for k, v in LEGACY_SPACE.items())
    rows = old.individuals()
    assert [r["genes"] for r in rows] == [r["genes"] for r in before]
    space = old.config().space
    for row in rows:  # the genomes decode to the networks they were
        assert decode(space, np.asarray(row["genes"])).key == row["key"]
    assert len(RunResult(copy).best(3)) == 3

    resume_search(copy, generations=2, progress=False, log=lambda line: None)
    resumed = RunDir.open(copy).individuals()
    assert max(r["generation"] for r in resumed) == 2
    assert all(len(r["genes"]) == space.layout.size for r in resumed)


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_a_format_1_checkpoint_resumes_as_the_run_would_have(tmp_path):
    """A run checkpointed by the generational loop before the runner asked GeneticLoop (format 1)
    continues exactly as a run checkpointed today: the same individuals, the same best."""
    config = RunConfig().with_overrides(
        data={"dataset": "digits"},
        search={"population": 4, "generations": 1, "engine": "serial", "seed": 5, "refit": False},
        training={"max_epochs": 2, "patience": 1},
        space={"max_levels": 2, "max_units": 2, "neuron_choices": [8, 16]},
    )
    run = tmp_path / "run"
    run_search(config, run, progress=False, log=lambda line: None)
    legacy = tmp_path / "legacy"
    shutil.copytree(run, legacy)
    _as_format_1(legacy)
    assert json.loads((legacy / "checkpoint.json").read_text())["format"] == 1
    for path in (run, legacy):
        resume_search(path, generations=3, progress=False, log=lambda line: None)
    assert (legacy / "individuals.jsonl").read_text() == (run / "individuals.jsonl").read_text()
    assert (legacy / "best/model.json").read_text() == (run / "best/model.json").read_text()
    assert json.loads((legacy / "checkpoint.json").read_text())["format"] == 2
