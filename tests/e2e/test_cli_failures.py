"""Failing candidates are records, not crashes: the search goes on (real runs, injected faults)."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import evonas, jsonl

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)


def test_dead_worker_build_error_and_oversized_network_are_recorded(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[data]\ndataset = "digits"\n'
        "[search]\npopulation = 8\ngenerations = 1\nseed = 4\nworkers = 2\n"
        "[training]\nmax_epochs = 2\npatience = 1\n"
        "[space]\nmax_levels = 2\nmax_units = 2\nneuron_choices = [8, 16, 32, 64, 128]\nmax_params = 20000\n"
        'embeddings = ["none"]\n'  # ple inputs put most digits networks over max_params
    )
    out = tmp_path / "run"
    env = {**os.environ, "EVONAS_FAULTS": "exit_above=12000,raise_above=6000"}
    res = evonas("run", str(config), "--out", str(out), "--quiet", env=env)
    assert res.returncode == 0, res.stderr
    evaluations = jsonl(out / "evaluations.jsonl")
    by_reason = {}
    for e in evaluations:
        if e["status"] == "failed":
            reason = (
                "died"
                if "worker process died" in e["error"]
                else "raised"
                if "injected fault" in e["error"]
                else "too big"
                if "max_params" in e["error"]
                else e["error"]
            )
            by_reason.setdefault(reason, []).append(e["params"])
        else:
            assert e["params"] <= 6000 and e["objective"] is not None
    assert set(by_reason) <= {"died", "raised", "too big"}, by_reason
    assert all(p > 20000 for p in by_reason.get("too big", []))
    assert all(12000 < p <= 20000 for p in by_reason.get("died", []))
    assert all(6000 < p <= 12000 for p in by_reason.get("raised", []))
    assert set(by_reason) == {"died", "raised", "too big"}, f"seed 4 produces every kind: {by_reason}"
    assert any(e["status"] == "ok" for e in evaluations)
    individuals = jsonl(out / "individuals.jsonl")
    assert {i["generation"] for i in individuals} == {0, 1}
    assert all(i["objective"] is None for i in individuals if i["status"] == "failed")
    # the summary line counts failures; `evonas show` lists them with their reasons
    assert "failed" in res.stdout
    shown = evonas("show", str(out))
    assert "Failed candidates" in shown.stdout and (
        "worker process died" in shown.stdout or "injected" in shown.stdout
    )
