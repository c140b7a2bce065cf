"""Smoke test of the training-speed benchmark: its parts run on Ames with tiny budgets, print tables."""

from __future__ import annotations

import re

import pytest

from evonas.fitness.trainers.plain import turns_input_gradient
from tests.benchmarks.conftest import run_benchmark

pytestmark = pytest.mark.slow  # real trainings (more than 2 s a test)


def run(*args: str) -> str:
    return run_benchmark("train_speed", *args)


def rows(out: str) -> list[list[str]]:
    """The per-genome rows of a table: lines starting with an index and a parameter count."""
    return [line.split() for line in out.splitlines() if re.match(r"\s*\d+\s+[\d,]+\s", line)]


@pytest.mark.parametrize("part", ["speed", "graph", "step", "fixed", "turn", "profile", "predict"])
def test_side_by_side_parts_print_one_row_per_genome_and_the_median_ratios(part):
    small = [] if part == "turn" else ["--small-space"]  # turn: the full space has products to turn
    out = run("--part", part, "--genomes", "2", "--epochs", "2", "--steps", "5", "--rounds", "1", *small)
    if part == "profile" and "[profile] skipped" in out:
        pytest.skip("this TensorFlow keeps its profiler's trace format elsewhere")
    table = rows(out)
    assert len(table) == 2
    if part == "speed":
        for row in table:  # fit s, evonas s, steady s and the ratios are positive numbers
            assert all(float(v) > 0 for v in row[4:10]), row
        assert re.search(r"median time ratio evonas/fit: \d\.\d{3} \(range", out)
        assert re.search(r"median matmul \d\.\d{3}", out)
        assert re.search(r"median best-val-loss ratio evonas/fit: \d+\.\d{3}", out)
    elif part == "graph":
        assert re.search(r"median time ratio off/on: \d\.\d{3}", out)
        assert all(float(v) > 0 for row in table for v in row[3:8])
    elif part == "fixed":  # prepare, trace and one epoch take time; instantiate may round to 0
        assert all(float(row[i]) > 0 for row in table for i in (3, 4, 6))
        assert all(float(row[5]) >= 0 for row in table)
        assert re.search(r"median prepare \d\.\d{3}s, trace \d\.\d{3}s, instantiate \d\.\d{3}s", out)
    elif part == "profile":  # the four shares of each genome's kernel time add up to 1
        for row in table:
            assert float(row[4]) > 0 and float(row[5]) > 0, row
            assert sum(float(v) for v in row[5:9]) == pytest.approx(1.0, abs=0.02), row
        assert re.search(r"median shares: matmul \d\.\d\d \(", out)
    elif part == "turn":  # on the CPU genome 0 (batch 16) has products to turn: the median line is printed
        assert all(float(v) > 0 for row in table for v in row[4:7])
        if turns_input_gradient(32, 322, 512):  # False where TensorFlow has a GPU
            assert int(table[0][3]) > 0
            assert re.search(r"median steady time ratio turned/never, over the \d+ genomes", out)
    elif part == "predict":  # predict s, forward s, their ratio; the outputs the same to float32 rounding
        timed = [row for row in table if "(no" not in row]  # a genome whose training failed saves no model
        assert timed and all(float(v) > 0 for row in timed for v in row[2:5])
        assert all(float(row[5]) < 1 for row in timed)
        assert re.search(r"median time ratio forward/predict: \d\.\d{3} \(range", out)
    else:
        assert all(float(v) > 0 for row in table for v in row[3:6])
        assert re.search(r"does not grow with the batch \(batch 1 / as trained\): \d\.\d\d", out)


def test_transpose_part_prints_the_time_fraction_per_batch_size_and_kernel():
    out = run("--part", "transpose", "--repeats", "1")
    table = [
        line.split() for line in out.splitlines() if re.match(r"\s*(16|32|64|128|256|512)\s+\d\.\d\d", line)
    ]
    assert [row[0] for row in table] == ["16", "32", "64", "128", "256", "512"]
    turned = turns_input_gradient(32, 322, 512)  # False where TensorFlow has a GPU
    for row in table:  # seven kernel shapes: positive fractions, starred where the trainer turns the product
        cells = row[1:8]
        assert all(float(cell.rstrip("*")) > 0 for cell in cells), row
        assert any(cell.endswith("*") for cell in cells) == (turned and int(row[0]) <= 128), row


def test_memory_part_prints_resident_memory_at_candidate_20_and_the_last():
    out = run("--part", "memory", "--candidates", "21", "--small-space")
    assert re.search(r"after candidate\s+20: RSS\s+\d+\.\d MB", out)
    assert re.search(r"after candidate\s+21: RSS\s+\d+\.\d MB", out)
    assert re.search(r"growth from candidate 20 to 21: [+-]\d+\.\d MB", out)


def test_throughput_part_prints_each_candidate_and_the_rate_with_the_device():
    out = run("--part", "throughput", "--rate-candidates", "2", "--small-space")
    assert re.search(r"^device: (CPU .+, \d+ cores, matrix products by (oneDNN|Eigen)|GPU .+)$", out, re.M)
    table = rows(out)
    assert len(table) == 2
    for row in table:  # params, batch and epochs are counts, the seconds positive, the status a word
        assert int(row[3]) >= 1 and float(row[4]) > 0 and row[5] in ("ok", "failed"), row
    rate = re.search(r"candidates per hour, one worker: ([\d,]+) \(([\d.]+)s for 2; median", out)
    assert rate, out[-2000:]
    per_hour, wall = int(rate.group(1).replace(",", "")), float(rate.group(2))
    assert per_hour > 0 and wall > 0
    assert per_hour * wall / 3600 == pytest.approx(2, rel=0.15)  # candidates over the wall time


def test_schedule_part_compares_random_order_and_longest_first_on_measured_candidates():
    out = run("--part", "schedule", "--rate-candidates", "12", "--small-space")
    table = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s+\d+\s+\d\.\d{3}\s", line)]
    assert [row[:2] for row in table] == [["2", "10"]]  # the larger generations need more candidates
    for row in table:  # a generation can never take less than its total seconds over the workers
        assert all(float(v) >= 0.999 for v in row[2:6]), row
