"""A feature that is a transform of the target is dropped and reported; the figures stay honest."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

CONFIG = """
[data]
dataset = "{path}"
target = "y"
id_columns = ["row"]
{keep}
[search]
population = 4
generations = 1
seed = 1
engine = "serial"
refit = false
[training]
max_epochs = 15
patience = 3
[space]
max_levels = 1
max_units = 1
neuron_choices = [32]
optimizers = ["adam"]
learning_rates = [0.003]
batch_sizes = [32]
"""


def run(tmp: Path, name: str, csv: Path, keep: str = "") -> tuple[subprocess.CompletedProcess, Path]:
    config = tmp / f"{name}.toml"
    config.write_text(CONFIG.format(path=csv, keep=keep))
    out = tmp / name
    res = evonas("run", str(config), "--out", str(out), "--quiet")
    assert res.returncode == 0, res.stderr
    return res, out


def test_the_log_of_the_target_is_dropped_reported_and_the_error_stays_honest(tmp_path):
    rng = np.random.default_rng(0)
    n = 1500
    x = rng.normal(size=(n, 3))
    y = 50 + 3 * x[:, 0] + 2 * x[:, 1] + rng.normal(0.0, 2.0, n)  # an honest model errs by about 2
    frame = pd.DataFrame({"row": np.arange(n), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": y})
    frame["log_y"] = np.log(frame["y"])
    csv = tmp_path / "with-log.csv"
    frame.to_csv(csv, index=False)

    honest, honest_dir = run(tmp_path, "dropped", csv)
    lines = [ln for ln in honest.stdout.splitlines() if "leak the target" in ln]
    assert len(lines) == 1 and "log_y (rank correlation" in lines[0], honest.stdout
    audit = json.loads((honest_dir / "data.json").read_text())["audit"]["dropped_columns"]
    assert audit["leaks"] == ["log_y"] and "monotone" in audit["leak_reasons"]["log_y"]
    encoder = json.loads((honest_dir / "encoder.json").read_text())
    assert "log_y" not in {c["name"] for c in encoder["numeric"]}

    # the same file, so the same split and test rows; the user keeps the column on purpose
    kept, kept_dir = run(tmp_path, "kept", csv, keep='keep_columns = ["log_y"]')
    assert "leak the target" not in kept.stdout
    assert "log_y" in {c["name"] for c in json.loads((kept_dir / "encoder.json").read_text())["numeric"]}
    rmse = {d.name: json.loads((d / "test.json").read_text())["test_rmse"] for d in (honest_dir, kept_dir)}
    assert 1.6 < rmse["dropped"] < 3.0, rmse  # the noise level: what an honest model can reach
    assert rmse["kept"] < rmse["dropped"] / 3, rmse  # the leak would have made the figure fiction
