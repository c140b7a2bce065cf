"""Smoke test of benchmarks/images.py on digits: evonas, the textbook network, KerasTuner if installed."""

from __future__ import annotations

import importlib.util
import json

import pytest

from tests.benchmarks.conftest import run_benchmark

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

TINY = ["--datasets", "digits", "--seeds", "0", "--population", "3", "--generations", "1"]
TINY += ["--max-epochs", "1", "--engine", "serial"]


def run(*args: str) -> str:
    return run_benchmark("images", *args)


def test_the_image_benchmark_measures_and_reports(tmp_path):
    methods = "evonas,textbook" + (",kerastuner" if importlib.util.find_spec("keras_tuner") else "")
    out = run(*TINY, "--methods", methods, "--out", str(tmp_path))
    evonas = json.loads((tmp_path / "evonas-digits-s0.json").read_text())
    assert 0.0 <= evonas["test_accuracy"] <= 1.0 and evonas["trainings"] >= 3 and 1 <= evonas["ensemble"] <= 3
    assert evonas["architecture"].startswith("conv ") and evonas["command"].startswith("evonas run")
    textbook = json.loads((tmp_path / "textbook-digits-s0.json").read_text())
    assert textbook["trainings"] == 1 and textbook["architecture"].startswith("conv 32k3-relu+max / 64k3")
    assert "| evonas |" in out and "| textbook |" in out
    if "kerastuner" in methods:
        tuner = json.loads((tmp_path / "kerastuner-digits-s0.json").read_text())
        assert tuner["trainings"] == evonas["trainings"] and "| kerastuner |" in out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    again = run("--datasets", "digits", "--out", str(tmp_path), "--report-only")
    assert [line for line in again.splitlines() if line.startswith("| ")] == table
