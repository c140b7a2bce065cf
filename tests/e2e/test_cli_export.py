"""End to end: `evonas export` writes one .keras model of raw columns that predicts as `evonas predict`."""

from __future__ import annotations

import io
import runpy
import subprocess
import sys
import textwrap
from contextlib import redirect_stdout

import numpy as np
import pandas as pd
import pytest

from tests.e2e.conftest import ROOT, evonas

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

# Run in a fresh interpreter where evonas cannot be imported: plain Keras reads the file.
SERVE = textwrap.dedent(
    """
    import sys; sys.modules.update({m: None for m in ("evonas", "evolve", "fitness", "genome")})
    try:
        import evonas.evolve
    except ImportError:
        pass
    else:
        raise SystemExit("evonas was importable")
    import json
    import keras, numpy as np, pandas as pd, tensorflow as tf
    model_path, rows_path, mapping, out_path = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
    model = keras.models.load_model(model_path)
    rows = pd.read_csv(rows_path, dtype={"kind": str})
    feed = {}
    for spec in model.inputs:
        column = mapping.get(spec.name, spec.name)
        if spec.dtype == "string":
            feed[spec.name] = tf.constant(rows[column].fillna("").astype(str).to_numpy(object).reshape(-1, 1))
        else:
            feed[spec.name] = rows[column].to_numpy(np.float32).reshape(-1, 1)
    out = model.predict(feed, verbose=0)
    np.save(out_path, out)
    print(sorted(feed))
    """
)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    rng = np.random.default_rng(0)
    n = 200
    size = rng.normal(50, 10, n)
    size[rng.random(n) < 0.15] = np.nan
    rooms = rng.integers(1, 6, n).astype(float)
    kind = rng.choice(np.array(["flat", "house", "loft"], dtype=object), n)
    kind[rng.random(n) < 0.1] = None
    y = 3 * np.nan_to_num(size, nan=50) + 20 * rooms + np.where(kind == "house", 40, 0) + rng.normal(0, 15, n)
    pd.DataFrame({"size m2": size, "rooms": rooms, "kind": kind, "y": y}).to_csv(
        root / "houses.csv", index=False
    )
    config = root / "config.toml"
    config.write_text(
        f'[data]\ndataset = "{(root / "houses.csv").as_posix()}"\ntarget = "y"\n'
        "[search]\npopulation = 4\ngenerations = 1\nseed = 0\nengine = \"serial\"\n"
        "[training]\nmax_epochs = 2\npatience = 1\n[space]\nmax_levels = 2\nmax_units = 2\n"
    )
    res = evonas("run", str(config), "--out", str(root / "run"), "--quiet")
    assert res.returncode == 0, res.stderr
    return root


def test_exported_model_predicts_as_evonas_predict_without_evonas(run):
    rows = pd.DataFrame(
        {
            "size m2": [np.nan, np.inf, -np.inf, 1e39, 48.5, 0.0, 61.0, 55.0],
            "rooms": [3.0, 2.0, np.nan, 1.0, 5.0, 2.0, 4.0, 3.0],
            "kind": [None, "house", "castle", "flat", "loft", None, "house", "flat"],
        }
    )
    rows.to_csv(run / "rows.csv", index=False)
    before = sorted(p.relative_to(run) for p in (run / "run").rglob("*"))
    exp = evonas("export", str(run / "run"), "--to", str(run / "m.keras"))
    assert exp.returncode == 0, exp.stderr
    assert exp.stdout.count("\n") == 1 and exp.stdout.startswith(
        f"evonas: wrote {run / 'm.keras'} (inputs: 3 raw"
    )
    assert "'size m2'->'size_m2'" in exp.stdout
    assert sorted(p.relative_to(run) for p in (run / "run").rglob("*")) == before  # nothing written there
    assert not list(run.glob(".m.keras.*"))  # no temporary file left
    pred = evonas("predict", str(run / "run"), str(run / "rows.csv"), "--out", str(run / "p.csv"))
    assert pred.returncode == 0, pred.stderr
    serve = subprocess.run(
        [sys.executable, "-c", SERVE, str(run / "m.keras"), str(run / "rows.csv"), '{"size_m2": "size m2"}',
         str(run / "out.npy")],
        capture_output=True, text=True, cwd=run, timeout=300,
    )  # fmt: skip
    assert serve.returncode == 0, serve.stderr
    got = np.load(run / "out.npy").reshape(-1)
    want = pd.read_csv(run / "p.csv")["prediction"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_to_inside_the_run_directory_is_refused(run):
    res = evonas("export", str(run / "run"), "--to", str(run / "run" / "m.keras"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "inside the run directory" in lines[0], res.stderr
    assert not (run / "run" / "m.keras").exists()
    assert not list((run / "run").glob(".m.keras.*"))


@pytest.mark.parametrize(
    ("to", "message"),
    [("m.h5", "must end with .keras"), ("nowhere/m.keras", "does not exist or is not writable")],
)
def test_bad_to_is_one_line_and_writes_nothing(run, to, message):
    res = evonas("export", str(run / "run"), "--to", str(run / to))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not (run / to).exists()


def test_missing_run_directory_exits_2(tmp_path):
    res = evonas("export", str(tmp_path / "norun"), "--to", str(tmp_path / "m.keras"))
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("evonas: error:"), res.stderr
    assert not (tmp_path / "m.keras").exists()


def test_the_using_the_model_example_runs(tmp_path, monkeypatch):
    """examples/using_the_model.py (linked from the README) runs and its three paths agree.

    Run as ``__main__`` in this process (runpy: the script whole, top to bottom), which spares
    a Python and TensorFlow start; its tiny searches train on the serial engine, as the example
    says (loky workers: the Ames shared run, tests/e2e/test_cli_failures.py).
    """
    script = ROOT / "examples" / "using_the_model.py"
    monkeypatch.setattr(sys, "argv", [str(script), str(tmp_path)])
    printed = io.StringIO()
    with redirect_stdout(printed):
        runpy.run_path(str(script), run_name="__main__")
    lines = {ln.split(":", 1)[0]: ln.split(":", 1)[1] for ln in printed.getvalue().splitlines() if ":" in ln}
    assert lines["predicted prices"] == lines["exported model"]
    assert "cross-validated R^2" in lines
