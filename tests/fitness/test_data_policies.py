"""The data policies of fitness.data / fitness.validate: what messy input becomes.

Accepted input (non-finite numbers, mixed types, thousands of levels) loads
with the documented treatment and an audit entry; refused input raises one
``DataError`` line naming the problem and the fix.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import DataError, load_dataset, split_labels
from evonas.fitness.validate import FLOAT32_MAX

SPLIT = (0.70, 0.15, 0.15)


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, n)
    return pd.DataFrame({"x": x, "k": rng.integers(0, 5, n), "y": 3 * x + rng.normal(0.0, 0.5, n)})


def _error(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text and text.strip() == text
    return text


# ---------------------------------------------------------------- files


def test_utf8_with_byte_order_mark_reads(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + _frame().to_csv(index=False).encode())
    data = load_dataset(path, "y")
    assert set(data.feature_names) == {"x", "k"}


def test_latin1_is_refused_with_the_fix(tmp_path: Path) -> None:
    """No silent fallback: a Latin-1 file is an error saying where and how to fix it."""
    path = tmp_path / "latin.csv"
    frame = _frame(50).assign(city="Zürich")
    path.write_bytes(frame.to_csv(index=False).encode("latin-1"))
    with pytest.raises(DataError) as excinfo:
        load_dataset(path, "y")
    assert _error(excinfo) == (
        f"cannot read {path}: byte 0xfc on line 2 is not UTF-8 text: "
        "re-save the file as UTF-8 (in Excel: 'CSV UTF-8')"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: export the table again, with a header row and data rows"),
        (b"   \n\n", "is empty"),
        (b"x,k,y\n", "has a header ('x', 'k', 'y') but no data rows: add rows below the header"),
        (b"x,k,y\n1,2,3\n1,2,3,4\n", "line 3 has 4 fields but the header has 3"),
        (b"x\tk\ty\n1\t2\t3\n", "look separated by '\\t'; re-save it with commas as separators"),
    ],
    ids=["empty", "blank", "header-only", "extra-field", "tab-separated"],
)
def test_unusable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as excinfo:
        load_dataset(path, "y")
    assert message in _error(excinfo)
    assert path.read_bytes() == content


def test_dataframe_without_rows_or_columns() -> None:
    with pytest.raises(DataError, match="has columns but no rows"):
        load_dataset(_frame().head(0), "y")
    with pytest.raises(DataError, match="has no columns"):
        load_dataset(pd.DataFrame(), "y")


def test_directory_and_close_dataset_names(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no .png/.jpg/.bmp/.gif image in the folder"):
        load_dataset(tmp_path, "y")
    with pytest.raises(DataError, match=r"unknown dataset 'digit' \(did you mean 'digits'\?\)"):
        load_dataset("digit")
    with pytest.raises(DataError, match=r"did you mean 'y'\?"):
        load_dataset(_frame(), "Y")  # case is ignored when suggesting


# ---------------------------------------------------------------- non-finite numbers


def test_nan_inf_and_huge_features_become_train_median_plus_indicator(tmp_path: Path) -> None:
    frame = _frame(400)
    frame["x"] = frame["x"].astype(object)
    frame.loc[0:9, "x"] = "inf"
    frame.loc[10:19, "x"] = "-inf"
    frame.loc[20:29, "x"] = ""
    frame.loc[30:34, "x"] = "1e39"  # finite, but beyond float32
    path = tmp_path / "nonfinite.csv"
    frame.to_csv(path, index=False)
    data = load_dataset(path, "y")
    assert data.audit["infinite_values"] == {"x": 25}
    assert "x" in data.audit["columns_with_missing"]
    names = list(data.feature_names)
    assert {"x", "x:missing"} <= set(names)
    for x in (data.x_train, data.x_val, data.x_test):
        assert np.isfinite(x).all() and np.abs(x).max() < 1e6
    flag, col = names.index("x:missing"), names.index("x")
    flagged = data.x_train[:, flag] == 1
    assert len(np.unique(data.x_train[flagged, col])) == 1  # one value: the train median
    assert np.isfinite(data.feature_var).all() and np.isfinite(data.feature_mean).all()


def test_rows_with_missing_or_infinite_target_are_dropped_and_counted() -> None:
    frame = _frame(300)
    frame.loc[:4, "y"] = np.inf
    frame.loc[5:9, "y"] = np.nan
    frame.loc[10, "y"] = 10 * FLOAT32_MAX
    data = load_dataset(frame, "y")
    assert data.audit["rows"]["dropped_missing_target"] == 11
    assert np.isfinite(data.y_train).all()


# ---------------------------------------------------------------- mixed types


def _with_words(frame: pd.DataFrame, column: str, every: int, word: str = "unknown") -> pd.DataFrame:
    frame = frame.copy()
    frame[column] = frame[column].astype(object)
    frame.loc[frame.index % every == 0, column] = word
    return frame


def test_mostly_numeric_column_is_numeric_with_words_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    _with_words(_frame(400), "x", every=20).to_csv(path, index=False)  # 5% words
    data = load_dataset(path, "y")
    assert {"x", "x:missing"} <= set(data.feature_names)
    assert not any(n.startswith("x=") for n in data.feature_names)
    assert data.audit["mixed_type_columns"] == {
        "x": {
            "numbers": 380,
            "text": 20,
            "examples": ["unknown"],
            "treated_as": "numeric (text values as missing)",
        }
    }
    assert data.audit["categorical_columns"] == {}


def test_mostly_text_column_is_categorical_and_recorded() -> None:
    frame = _frame(400)
    frame["code"] = np.where(frame.index % 3 == 0, "17", np.where(frame.index % 3 == 1, "a", "b"))
    data = load_dataset(frame, "y")
    assert {"code=17", "code=a", "code=b"} <= set(data.feature_names)
    assert data.audit["mixed_type_columns"]["code"]["treated_as"] == "categorical"
    assert data.audit["mixed_type_columns"]["code"]["numbers"] == 134


def test_text_of_numbers_is_numeric_and_input_frame_is_unchanged() -> None:
    frame = _frame(300)
    frame["x"] = frame["x"].map(str)
    frame["y"] = frame["y"].map(str)
    before = frame.copy()
    data = load_dataset(frame, "y")
    pd.testing.assert_frame_equal(frame, before)
    assert data.task == "regression" and "x" in data.feature_names
    assert data.audit["mixed_type_columns"] == {}


def test_mixed_target_is_an_error_unless_classification() -> None:
    frame = _with_words(_frame(300), "y", every=50, word="n.a.")
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame, "y")
    assert _error(excinfo) == (
        "target 'y' mixes numbers and text (6 of 300 values are not numbers: 'n.a.'): fix or remove those "
        "values, or use --task classification to treat every value as a label"
    )
    with pytest.raises(DataError, match="mixes numbers and text"):
        load_dataset(frame, "y", task="regression")
    labels = pd.DataFrame({"x": np.arange(300.0), "y": np.where(np.arange(300) % 2, "7", "seven")})
    data = load_dataset(labels, "y", task="classification")
    assert data.classes == ("7", "seven")


def test_text_target_for_regression() -> None:
    frame = _frame(100).assign(y=lambda f: np.where(f["x"] > 0, "up", "down"))
    with pytest.raises(DataError, match=r"is not numeric \(values such as '(up|down)', '(up|down)'\)"):
        load_dataset(frame, "y", task="regression")
    assert load_dataset(frame, "y").task == "classification"


# ---------------------------------------------------------------- target values


def test_target_without_values_or_constant() -> None:
    frame = _frame(100)
    with pytest.raises(DataError, match=r"has no values \(all 100 rows are missing or infinite\)"):
        load_dataset(frame.assign(y=np.nan), "y")
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame.assign(y=np.where(frame.index < 10, np.nan, 5.0)), "y")
    assert _error(excinfo) == (
        "target 'y' has fewer than two distinct values (5.0 in all 90 rows that have a value): "
        "choose a target that varies"
    )


# ---------------------------------------------------------------- classes


def _classes_frame(rare_rows: list[int]) -> pd.DataFrame:
    common = pd.DataFrame({"x": np.arange(200), "y": np.where(np.arange(200) % 2, "A", "B")})
    return pd.concat([common, pd.DataFrame({"x": rare_rows, "y": "rare"})], ignore_index=True)


def _rows_on(side: str, count: int, label: str = "rare") -> list[int]:
    """x values whose ``label`` row the hash split puts on ``side`` (a row's side depends on its content)."""
    frame = pd.DataFrame({"x": np.arange(1000, 2000), "y": label})
    labels = split_labels(frame, SPLIT)
    return frame.loc[labels == side, "x"].head(count).tolist()


def test_class_without_train_rows_is_named() -> None:
    frame = _classes_frame(_rows_on("val", 1) + _rows_on("test", 1))
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame, "y")
    assert _error(excinfo) == (
        "class of target 'y' with no row in the train split: 'rare' (2 rows); drop or merge rare classes, "
        "or add rows (every class needs at least one train row)"
    )


def test_several_classes_without_train_rows() -> None:
    extra = pd.DataFrame({"x": _rows_on("test", 1, "other"), "y": "other"})
    frame = pd.concat([_classes_frame(_rows_on("test", 1)), extra], ignore_index=True)
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame, "y")
    assert _error(excinfo).startswith(
        "2 classes of target 'y' with no row in the train split: 'other' (1 row), 'rare' (1 row); "
    )


def test_class_with_train_rows_only_is_fine() -> None:
    data = load_dataset(_classes_frame(_rows_on("train", 2)), "y")
    assert data.classes == ("A", "B", "rare")
    rare = data.classes.index("rare")
    assert (data.y_train == rare).sum() == 2 and rare not in data.y_val and rare not in data.y_test


# ---------------------------------------------------------------- features


def test_all_features_constant_on_train_rows() -> None:
    frame = _frame(300).assign(x=1.0, k="same")
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame, "y")
    assert _error(excinfo) == (
        "every feature of 'dataframe' is constant on the train rows ('x', 'k'): "
        "there is nothing to learn from; add columns that vary"
    )
    # one varying feature is enough
    assert load_dataset(frame.assign(k=np.arange(300) % 3), "y").n_features == 2


def test_no_feature_left_after_ids_and_leaks() -> None:
    frame = _frame(200)[["y"]].assign(uid=[f"u{i}" for i in range(200)], y_copy=lambda f: f["y"] * 2)
    with pytest.raises(DataError) as excinfo:
        load_dataset(frame, "y")
    assert _error(excinfo) == (
        "no feature columns left in 'dataframe' (dropped: 'uid', 'y_copy'): "
        "add columns to learn from besides the target"
    )


# ---------------------------------------------------------------- many levels


def test_five_thousand_levels_are_capped_and_recorded(tmp_path: Path) -> None:
    n = 20_000
    rng = np.random.default_rng(3)
    city = rng.integers(0, 5000, n)
    frame = pd.DataFrame({"city": [f"c{c}" for c in city], "x": rng.normal(size=n)})
    frame["y"] = frame["x"] + (city % 7) + rng.normal(0.0, 0.1, n)
    path = tmp_path / "cities.csv"
    frame.to_csv(path, index=False)
    start = time.perf_counter()
    data = load_dataset(path, "y")
    assert time.perf_counter() - start < 20
    info = data.audit["categorical_columns"]["city"]
    assert info["kept"] == 50 and info["train_levels"] > 4000
    assert data.audit["capped_categorical_columns"] == ["city"]
    assert data.n_features == 51 and data.x_train.dtype == np.float32
    assert sum(n.startswith("city=") for n in data.feature_names) == 50
