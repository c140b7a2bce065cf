"""Runs that cannot succeed: every candidate fails (exit 3, one line), or the space is too small."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from evonas.evolve.api import check_space_fits, load_data, smallest_network_params
from evonas.evolve.config import RunConfig
from evonas.evolve.logbook import failure_reasons, most_common_failure, no_success_reason
from tests.e2e.conftest import ALL_FAIL, evonas, jsonl
from tests.e2e.conftest import TINY_CONFIG as TINY

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

REASON = "most often: RuntimeError: injected fault: <n> parameters > <n> (inject_faults)"


def one_line(res: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_the_most_common_failure_groups_messages_that_differ_only_in_numbers():
    rows = [
        {"key": "a", "status": "failed", "error": "RuntimeError: injected fault: 3554 parameters > 0"},
        {"key": "b", "status": "failed", "error": "RuntimeError: injected fault: 1,426 parameters > 0"},
        {"key": "b", "status": "failed", "error": "RuntimeError: injected fault: 1,426 parameters > 0"},
        {"key": "c", "status": "failed", "error": "non-finite loss after 2 epochs"},
    ]
    assert most_common_failure(rows) == ("RuntimeError: injected fault: <n> parameters > <n>", 2)
    assert failure_reasons(rows)[1] == ("non-finite loss after 2 epochs", 1)  # verbatim: it never varies
    assert no_success_reason(rows) == (
        "most often: RuntimeError: injected fault: <n> parameters > <n>, 2 of 3 candidates"
    )
    assert no_success_reason([*rows, {"key": "d", "status": "ok", "error": None}]) is None
    assert most_common_failure([{"key": "d", "status": "ok"}]) is None and no_success_reason([]) is None


@pytest.fixture(scope="module")
def failed_run(all_failed_run) -> tuple[Path, subprocess.CompletedProcess]:
    """Digits where every candidate fails (``ALL_FAIL``), shared with test_cli_predict.py."""
    res, out = all_failed_run
    return out, res


def test_a_run_where_every_candidate_fails_exits_3_with_the_reason(failed_run):
    out, res = failed_run
    assert res.returncode == 3, res.stderr
    line = one_line(res)
    assert line == (
        f"evonas: error: no candidate trained successfully in {out} ({REASON}, 8 of 8 candidates); "
        "nothing to score or predict"
    )
    evaluations = jsonl(out / "evaluations.jsonl")
    assert len(evaluations) == 8 and all(e["status"] == "failed" for e in evaluations)
    assert json.loads((out / "checkpoint.json").read_text())["generation"] == 1
    assert not (out / "test.json").exists() and not (out / "best").exists() and not (out / "lock").exists()


def test_show_lineage_report_and_predict_of_the_failed_run(failed_run, tmp_path):
    out, _ = failed_run
    shown = evonas("show", str(out))
    assert shown.returncode == 0, shown.stderr
    assert f"No candidate trained successfully; {REASON}, 8 of 8 candidates." in shown.stdout
    assert "Failed candidates (8)" in shown.stdout and "Best 5 genomes" not in shown.stdout

    lineage = evonas("lineage", str(out))
    assert lineage.returncode == 2
    assert "has no successful individual" in one_line(lineage) and REASON in lineage.stderr
    assert evonas("lineage", str(out), "--id", "0").returncode == 0  # a failed one's ancestry still shows

    report_dir = tmp_path / "report"
    report = evonas("report", str(out), "--out", str(report_dir))
    assert report.returncode == 0, report.stderr
    assert "no candidate trained successfully" in report.stdout
    page = (report_dir / "report.html").read_text()
    assert "No candidate trained successfully" in page and "injected fault" in page
    assert not (report_dir / "fitness.png").exists() and not (report_dir / "best_architecture.png").exists()

    rows = tmp_path / "rows.csv"
    rows.write_text(",".join(f"px{i}" for i in range(64)) + "\n" + ",".join(["0"] * 64) + "\n")
    predict = evonas("predict", str(out), str(rows))
    assert predict.returncode == 2
    assert "no model to predict with" in one_line(predict)


def test_resuming_the_failed_run_with_more_generations_fails_the_same_way(failed_run, tmp_path):
    out, _ = failed_run
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in out.iterdir():
        if p.is_file():
            (copy / p.name).write_bytes(p.read_bytes())
    res = evonas("resume", str(copy), "--generations", "2", "--quiet", env=ALL_FAIL)
    assert res.returncode == 3, res.stderr
    assert one_line(res) == (
        f"evonas: error: no candidate trained successfully in {copy} ({REASON}, 12 of 12 candidates); "
        "nothing to score or predict"
    )
    assert json.loads((copy / "checkpoint.json").read_text())["generation"] == 2
    assert not (copy / "lock").exists()


def test_a_space_whose_smallest_network_exceeds_max_params_is_refused_before_anything_runs(tmp_path):
    config = tmp_path / "small.toml"
    config.write_text('[data]\ndataset = "digits"\n' + TINY + "max_params = 10\n")
    out = tmp_path / "run"
    res = evonas("run", str(config), "--out", str(out))
    assert res.returncode == 2
    # digits: 64 features, 10 classes; 1 unit of 8 neurons: 64*8+8 + 8*10+10 = 610 parameters
    assert one_line(res) == (
        "evonas: error: space.max_params = 10 is below the smallest network of the space on digits "
        "(1 level of 1 unit of 8 neurons, 64 features in, 10 outputs: 610 parameters); "
        "raise space.max_params to at least 610 or give space.neuron_choices a smaller width"
    )
    assert res.stdout == "" and not out.exists()
    space = RunConfig.load(config).space
    data = load_data(RunConfig.load(config).data)
    assert smallest_network_params(space, data) == 610
    check_space_fits(dataclasses.replace(space, max_params=610), data)  # the bound is inclusive
