"""Bad data (and configuration files) on the real command line.

Each case writes its input files, runs ``evonas run`` in a subprocess and
checks: exit status 2, exactly one line on stderr naming the problem and the
fix, no traceback, no run directory, and nothing in the test's folder written
or changed (the input file compared byte for byte). Every case fails before
any training, so the whole file takes seconds per case.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from evonas.fitness.data import split_labels
from tests.e2e.conftest import evonas

HEADER = "x,z,y\n"


def _rows(n: int, target: Callable[[int], object]) -> str:
    """n CSV rows ``x,z,y`` with varying features and the given target."""
    return "".join(f"{i},{i % 7},{target(i)}\n" for i in range(n))


def _rare_class_csv() -> str:
    """Two common classes and a one-row class that the hash split puts in val or test."""
    common = "x,y\n" + "".join(f"{i},{'A' if i % 2 else 'B'}\n" for i in range(60))
    frame = pd.DataFrame({"x": range(1000, 1200), "y": "rare"})
    labels = split_labels(frame, (0.70, 0.15, 0.15))  # a row's side depends on its content only
    k = int(frame.loc[labels != "train", "x"].iloc[0])
    return f"{common}{k},rare\n"


DATA = ["--dataset", "{dir}/data.csv", "--target", "y"]

# (case, files to write into {dir}, command-line arguments, expected part of the one stderr line)
CASES = [
    ("missing file", {}, DATA, "data file not found: "),
    ("empty csv", {"data.csv": ""}, DATA, "data.csv is empty: export the table again"),
    ("header only", {"data.csv": HEADER}, DATA, "has a header ('x', 'z', 'y') but no data rows: add rows"),
    (
        "latin-1 encoding",
        {"data.csv": (HEADER + _rows(40, lambda i: "café" if i == 5 else i)).encode("latin-1")},
        DATA,
        "byte 0xe9 on line 7 is not UTF-8 text: re-save the file as UTF-8",
    ),
    (
        "utf-16 encoding",
        {"data.csv": (HEADER + _rows(40, float)).encode("utf-16")},
        DATA,
        "it is UTF-16 text, not UTF-8: re-save the file as UTF-8",
    ),
    (
        "row with extra fields",
        {"data.csv": HEADER + "1,2,3\n4,5,6,7\n"},
        DATA,
        "line 3 has 4 fields but the header has 3: fix that line",
    ),
    ("semicolon separated", {"data.csv": "x;z;y\n1;2;3\n"}, DATA, "its values look separated by ';'"),
    (
        "target column missing",
        {"data.csv": "x,z,price\n" + _rows(40, float)},
        ["--dataset", "{dir}/data.csv", "--target", "Prize"],
        "target column 'Prize' not found in 'data' (did you mean 'price'?): check --target",
    ),
    (
        "no target given",
        {"data.csv": HEADER + _rows(40, float)},
        ["--dataset", "{dir}/data.csv"],
        "no target column for 'data': pass --target COLUMN (columns: x, z, y)",
    ),
    (
        "target all missing or infinite",
        {"data.csv": HEADER + _rows(40, lambda i: ["", "inf", "-inf", "nan"][i % 4])},
        DATA,
        "target 'y' has no values (all 40 rows are missing or infinite): choose another --target column",
    ),
    (
        "target constant",
        {"data.csv": HEADER + _rows(40, lambda i: 3)},
        DATA,
        "target 'y' has fewer than two distinct values (3 in all 40 rows): choose a target that varies",
    ),
    (
        "text target for regression",
        {"data.csv": HEADER + _rows(40, lambda i: "hi" if i % 2 else "lo")},
        [*DATA, "--task", "regression"],
        "target 'y' is not numeric (values such as 'lo', 'hi'), so it cannot be a regression target: "
        "use --task classification",
    ),
    (
        "mixed types in target",
        {"data.csv": HEADER + _rows(40, lambda i: "oops" if i % 10 == 3 else i * 1.5)},
        DATA,
        "target 'y' mixes numbers and text (4 of 40 values are not numbers: 'oops'): "
        "fix or remove those values, or use --task classification",
    ),
    (
        "class without train rows",
        {"data.csv": _rare_class_csv()},
        DATA,
        "class of target 'y' with no row in the train split: 'rare' (1 row); drop or merge rare classes",
    ),
    (
        "all features constant",
        {"data.csv": HEADER + "".join(f"1,a,{i * 0.5}\n" for i in range(40))},
        DATA,
        "every feature of 'data' is constant on the train rows ('x', 'z'): there is nothing to learn from",
    ),
    (
        "no feature columns",
        {"data.csv": "name,y\n" + "".join(f"n{i},{i * 0.5}\n" for i in range(40))},
        DATA,
        "no feature columns left in 'data' (dropped: 'name'): add columns to learn from besides the target",
    ),
    (
        "unknown built-in dataset",
        {},
        ["--dataset", "amse"],
        "unknown dataset 'amse' (did you mean 'ames'?): use one of ames, digits, mnist5k",
    ),
    (
        "split not summing to 1 (toml)",
        {"c.toml": "[data]\nsplit = [0.7, 0.2, 0.2]\n"},
        ["{dir}/c.toml"],
        "data.split fractions must sum to 1, got 1.1",
    ),
    (
        "max_levels below 1 (toml)",
        {"c.toml": "[space]\nmax_levels = 0\n"},
        ["{dir}/c.toml"],
        "space.max_levels must be >= 1, got 0",
    ),
]


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("files", "args", "message"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, files: dict[str, str | bytes], args: list[str], message: str
) -> None:
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    before = _snapshot(tmp_path)
    out = tmp_path / "run"
    command = [a.format(dir=tmp_path) for a in args]
    res = evonas("run", *command, "--out", str(out), "--quiet")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("evonas: error: ") and message in lines[0], lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    assert not out.exists()
    assert _snapshot(tmp_path) == before  # the input file, and everything else, unchanged
