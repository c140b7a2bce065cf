"""Tests for fitness.data: built-ins, hash split, encoding, task detection, errors."""

from __future__ import annotations

import importlib.util

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import DataError, Dataset, detect_task, load_dataset, read_frame, split_labels

AMES_IDS = ("rownames", "Order", "PID")
SPLIT = (0.70, 0.15, 0.15)


@pytest.fixture(scope="module")
def ames() -> Dataset:
    return load_dataset("ames")


def _rows(x: np.ndarray, y: np.ndarray | None = None) -> set[bytes]:
    """Each row (features, plus target when given) as bytes, for set comparisons."""
    full = x if y is None else np.column_stack([x, y.astype(np.float32)])
    return {row.tobytes() for row in np.ascontiguousarray(full)}


def _feature_root(name: str) -> str:
    return name.split("=", 1)[0].split(":missing", 1)[0]


def _tabular(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Mixed-type frame: numeric with gaps, categorical with gaps, string + numeric ids."""
    rng = np.random.default_rng(seed)
    num = rng.normal(10.0, 3.0, n)
    num[rng.random(n) < 0.1] = np.nan
    num[3] = np.inf
    color = rng.choice(np.array(["red", "green", "blue", "teal"], dtype=object), n, p=[0.5, 0.3, 0.15, 0.05])
    color[rng.random(n) < 0.05] = None
    return pd.DataFrame(
        {
            "row_id": np.arange(n),
            "uid": [f"u{i:05d}" for i in range(n)],
            "num": num,
            "color": color,
            "flag": rng.random(n) < 0.3,
            "y": rng.normal(100.0, 20.0, n),
        }
    )


# ---------------------------------------------------------------- ames


def test_ames_shapes_and_split_fractions(ames: Dataset) -> None:
    rows = ames.audit["rows"]
    n_train, n_val, n_test = len(ames.y_train), len(ames.y_val), len(ames.y_test)
    assert n_train + n_val + n_test == 2930 - rows["dropped_missing_target"]
    assert (rows["train"], rows["val"], rows["test"]) == (n_train, n_val, n_test)
    total = n_train + n_val + n_test
    for n, fraction in zip((n_train, n_val, n_test), SPLIT, strict=True):
        assert abs(n / total - fraction) < 0.03
    assert ames.task == "regression" and ames.target == "price" and ames.n_outputs == 1
    assert ames.classes == ()
    for x in (ames.x_train, ames.x_val, ames.x_test):
        assert x.dtype == np.float32 and x.shape[1] == ames.n_features and np.isfinite(x).all()
    assert ames.y_train.dtype == np.float32
    assert ames.feature_mean.shape == ames.feature_var.shape == (ames.n_features,)
    assert ames.feature_mean.dtype == ames.feature_var.dtype == np.float32
    assert (ames.feature_var > 0).all()
    np.testing.assert_allclose(ames.feature_mean, ames.x_train.mean(axis=0), rtol=1e-4, atol=1e-4)
    assert ames.target_mean == pytest.approx(float(ames.y_train.mean()), rel=1e-6)
    assert ames.target_std == pytest.approx(float(ames.y_train.std()), rel=1e-5)
    assert 100_000 < ames.target_mean < 300_000  # raw dollars, not scaled
    assert ames.audit["n_features"] == ames.n_features
    assert ames.audit["identical rows across splits"] == 0


def test_ames_never_uses_price_or_identifiers(ames: Dataset) -> None:
    banned = ("price", *AMES_IDS)
    for name in ames.feature_names:
        assert _feature_root(name) not in banned
        assert not name.startswith(banned), name
    assert set(AMES_IDS) <= set(ames.audit["dropped_columns"]["identifiers"])
    assert ames.audit["dropped_columns"]["target"] == "price"
    assert ames.audit["dropped_columns"]["leaks"] == []
    assert "area" in ames.feature_names and "Neighborhood=NAmes" in ames.feature_names


def test_ames_no_identical_rows_across_splits(ames: Dataset) -> None:
    frame, _, target, ids = read_frame("ames")
    content = frame.drop(columns=list(ids)).loc[frame[target].notna()]
    labels = split_labels(content, SPLIT)
    hashes = pd.util.hash_pandas_object(content, index=False).to_numpy()
    sides = {side: set(hashes[labels == side].tolist()) for side in ("train", "val", "test")}
    assert [len(ames.y_train), len(ames.y_val), len(ames.y_test)] == [
        int((labels == s).sum()) for s in ("train", "val", "test")
    ]
    assert not sides["train"] & sides["test"] and not sides["train"] & sides["val"]
    assert not sides["val"] & sides["test"]
    train_rows = _rows(ames.x_train, ames.y_train)
    assert not train_rows & _rows(ames.x_test, ames.y_test)
    assert not train_rows & _rows(ames.x_val, ames.y_val)


def test_ames_load_is_deterministic(ames: Dataset) -> None:
    again = load_dataset("ames")
    assert again.fingerprint == ames.fingerprint
    assert len(ames.fingerprint) == 16 and int(ames.fingerprint, 16) >= 0
    np.testing.assert_array_equal(again.x_test, ames.x_test)
    np.testing.assert_array_equal(again.y_val, ames.y_val)
    assert again.feature_names == ames.feature_names


# ---------------------------------------------------------------- image built-ins


@pytest.mark.parametrize(
    ("name", "rows", "width"),
    [("digits", 1797, 64), pytest.param("mnist5k", 5000, 784, marks=pytest.mark.slow)],  # mnist5k: 2.3 s
)
def test_image_builtins_are_ten_class_classification(name: str, rows: int, width: int) -> None:
    data = load_dataset(name)
    assert data.task == "classification" and data.target == "digit"
    assert data.classes == tuple(range(10)) and data.n_outputs == 10
    assert all(type(c) is int for c in data.classes)
    assert data.n_features == width and data.feature_names[:2] == ("px0", "px1")
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == rows
    for y in (data.y_train, data.y_val, data.y_test):
        assert y.dtype == np.int64 and y.min() >= 0 and y.max() <= 9
    assert set(np.unique(data.y_train)) == set(range(10))
    assert data.target_mean == 0.0 and data.target_std == 1.0
    assert (data.feature_var > 0).all()  # constant border pixels get variance 1


# ---------------------------------------------------------------- split


def test_split_labels_identical_rows_same_side_and_shuffle_stable() -> None:
    rng = np.random.default_rng(1)
    base = pd.DataFrame({"a": rng.integers(0, 1000, 500), "b": rng.choice(["x", "y", "z"], 500)})
    frame = pd.concat([base, base, base], ignore_index=True)
    labels = split_labels(frame, SPLIT)
    assert set(labels) == {"train", "val", "test"}
    np.testing.assert_array_equal(labels[:500], labels[500:1000])
    np.testing.assert_array_equal(labels[:500], labels[1000:])
    order = rng.permutation(len(frame))
    shuffled = frame.iloc[order].reset_index(drop=True)
    np.testing.assert_array_equal(split_labels(shuffled, SPLIT), labels[order])
    np.testing.assert_array_equal(split_labels(frame, SPLIT), labels)


def test_split_labels_follow_fractions() -> None:
    frame = pd.DataFrame({"a": np.arange(20_000)})
    labels = split_labels(frame, (0.6, 0.3, 0.1))
    for side, fraction in (("train", 0.6), ("val", 0.3), ("test", 0.1)):
        assert abs((labels == side).mean() - fraction) < 0.015


def test_rows_differing_only_by_id_never_straddle_splits() -> None:
    base = _tabular(200, seed=2).drop(columns=["row_id", "uid"])
    frame = pd.concat([base, base], ignore_index=True)
    frame.insert(0, "row_id", np.arange(len(frame)))
    data = load_dataset(frame, "y", id_columns=["row_id"])
    assert "row_id" not in data.feature_names
    assert data.audit["duplicate_rows"] == 200
    splits = ((data.x_train, data.y_train), (data.x_val, data.y_val), (data.x_test, data.y_test))
    train, val, test = (_rows(x, y) for x, y in splits)
    assert not train & val and not train & test and not val & test


# ---------------------------------------------------------------- encoding


def test_dataframe_encoding_onehot_indicator_median_and_ids() -> None:
    frame = _tabular()
    before = frame.copy()
    data = load_dataset(frame, "y", id_columns=["row_id"])
    pd.testing.assert_frame_equal(frame, before)  # input unchanged
    names = data.feature_names
    assert data.name == "dataframe" and data.task == "regression"
    assert {"row_id", "uid", "y"}.isdisjoint(_feature_root(n) for n in names)
    assert data.audit["dropped_columns"]["identifiers"] == ["row_id", "uid"]
    assert data.audit["dropped_columns"]["auto_identifiers"] == ["uid"]
    assert {"num", "num:missing", "flag", "color=red", "color=green", "color=<missing>"} <= set(names)
    assert "flag:missing" not in names
    assert data.audit["categorical_columns"]["color"] == {"train_levels": 5, "kept": 5}

    num, flag = names.index("num"), names.index("num:missing")
    missing = data.x_train[:, flag] == 1
    assert 0 < missing.sum() < len(missing)
    median = np.median(data.x_train[~missing, num])
    assert np.all(data.x_train[missing, num] == np.float32(median))
    for x in (data.x_val, data.x_test):  # other splits get the TRAIN median
        assert np.all(x[x[:, flag] == 1, num] == np.float32(median))
    assert np.isfinite(data.x_train).all()

    color = [i for i, n in enumerate(names) if n.startswith("color=")]
    for x in (data.x_train, data.x_val, data.x_test):
        np.testing.assert_array_equal(x[:, color].sum(axis=1), 1.0)
    np.testing.assert_allclose(data.feature_mean, data.x_train.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_rare_and_unseen_levels_encode_as_zeros() -> None:
    frame = _tabular(600, seed=3)
    frame.loc[:39, "color"] = [f"rare{i}" for i in range(40)]  # each level on one row
    data = load_dataset(frame, "y", id_columns=["row_id"], max_levels_per_category=2)
    color = [n for n in data.feature_names if n.startswith("color=")]
    assert color == ["color=red", "color=green"]  # the two most frequent train levels
    assert data.audit["categorical_columns"]["color"]["kept"] == 2
    columns = [data.feature_names.index(n) for n in color]
    for x in (data.x_train, data.x_val, data.x_test):
        sums = x[:, columns].sum(axis=1)
        assert set(np.unique(sums)) == {0.0, 1.0}

    # levels are learnt from train rows only: a level seen only in val/test is no feature
    data = load_dataset(frame, "y", id_columns=["row_id"])
    labels = split_labels(frame.drop(columns=["row_id"]), SPLIT)  # every column but the given ids
    rare = frame["color"].str.startswith("rare", na=False).to_numpy()
    in_train = set(frame.loc[rare & (labels == "train"), "color"])
    held_out = set(frame.loc[rare & (labels != "train"), "color"])
    assert in_train and held_out
    features = {n.removeprefix("color=") for n in data.feature_names if n.startswith("color=")}
    assert in_train <= features and not held_out & features
    columns = [i for i, n in enumerate(data.feature_names) if n.startswith("color=")]
    zeros = sum(int((x[:, columns].sum(axis=1) == 0).sum()) for x in (data.x_val, data.x_test))
    assert zeros == len(held_out)


def test_classification_target_from_strings_and_missing_target_rows() -> None:
    frame = _tabular(300, seed=4)
    frame["label"] = np.where(frame["num"].fillna(0) > 10, "high", "low")
    frame.loc[:9, "label"] = None
    data = load_dataset(frame.drop(columns=["y"]), "label", id_columns=["row_id"])
    assert data.task == "classification" and data.classes == ("high", "low")
    assert data.n_outputs == 2 and data.y_train.dtype == np.int64
    assert data.audit["rows"]["dropped_missing_target"] == 10
    assert sum(data.audit["rows"][s] for s in ("train", "val", "test")) == 290
    assert "label" not in {_feature_root(n) for n in data.feature_names}


def test_leaking_copy_of_target_is_dropped() -> None:
    frame = _tabular(300, seed=5)
    frame["y_in_cents"] = frame["y"] * 100 + 1
    data = load_dataset(frame, "y", id_columns=["row_id"])
    assert data.audit["dropped_columns"]["leaks"] == ["y_in_cents"]
    assert "y_in_cents" not in data.feature_names


def test_csv_round_trip(tmp_path) -> None:
    path = tmp_path / "houses.csv"
    _tabular(300, seed=6).to_csv(path, index=False)
    data = load_dataset(str(path), "y", id_columns=["row_id"])
    assert data.name == "houses" and data.task == "regression" and "num:missing" in data.feature_names
    assert load_dataset(path, "y", id_columns=["row_id"]).fingerprint == data.fingerprint


def test_fingerprint_changes_with_data() -> None:
    frame = _tabular(300, seed=7)
    first = load_dataset(frame, "y").fingerprint
    frame.loc[0, "y"] += 1.0
    assert load_dataset(frame, "y").fingerprint != first


# ---------------------------------------------------------------- task detection


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.Series(["a", "b", "a"]), "classification"),
        (pd.Series([True, False, True]), "classification"),
        (pd.Series(["x", "y"], dtype="category"), "classification"),
        (pd.Series([0, 1, 2, 1, 0]), "classification"),
        (pd.Series([1.0, 2.0, np.nan, 3.0]), "classification"),
        (pd.Series(np.arange(100)), "regression"),
        (pd.Series([0.5, 1.0, 2.0]), "regression"),
    ],
)
def test_detect_task(values: pd.Series, expected: str) -> None:
    assert detect_task(values) == expected


def test_forced_task() -> None:
    assert detect_task(pd.Series([0, 1, 1]), "regression") == "regression"
    assert detect_task(pd.Series([0.5, 1.5]), "classification") == "classification"
    with pytest.raises(DataError, match="not numeric"):
        detect_task(pd.Series(["a", "b"]), "regression")
    frame = pd.DataFrame({"x": np.arange(200.0), "y": np.arange(200) % 3})
    assert load_dataset(frame, "y").classes == (0, 1, 2)
    data = load_dataset(frame, "y", task="regression")
    assert data.task == "regression" and data.classes == () and data.y_train.dtype == np.float32


# ---------------------------------------------------------------- errors


def _message(excinfo: pytest.ExceptionInfo) -> str:
    text = str(excinfo.value)
    assert "\n" not in text
    return text


def test_unknown_dataset_and_missing_file(tmp_path) -> None:
    with pytest.raises(DataError) as excinfo:
        load_dataset("foo")
    assert _message(excinfo) == (
        "unknown dataset 'foo': use one of ames, digits, mnist5k or a path to a .csv/.parquet file"
    )
    with pytest.raises(DataError, match="not found"):
        load_dataset(str(tmp_path / "nope.csv"), "y")
    bad = tmp_path / "data.xlsx"
    bad.write_text("x")
    with pytest.raises(DataError, match="unsupported file type"):
        load_dataset(bad, "y")


def test_parquet_without_pyarrow_says_how_to_install(tmp_path) -> None:
    if importlib.util.find_spec("pyarrow") or importlib.util.find_spec("fastparquet"):
        pytest.skip("a parquet engine is installed")
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    with pytest.raises(DataError, match="pip install pyarrow"):
        load_dataset(path, "y")


def test_missing_or_misspelled_target() -> None:
    frame = _tabular(50)
    with pytest.raises(DataError, match="--target") as excinfo:
        load_dataset(frame)
    _message(excinfo)
    with pytest.raises(DataError, match="did you mean 'price'") as excinfo:
        load_dataset("ames", "prize")
    _message(excinfo)
    with pytest.raises(DataError, match="id column 'rowid'.*did you mean 'row_id'"):
        load_dataset(frame, "y", id_columns=["rowid"])


@pytest.mark.parametrize(
    "split", [(0.5, 0.5), (0.7, 0.3, 0.0), (0.7, 0.2, 0.2), (0.8, -0.1, 0.3), ("a", 0.5, 0.5), 0.7]
)
def test_bad_split(split: tuple) -> None:
    with pytest.raises(DataError, match="bad split") as excinfo:
        load_dataset(_tabular(50), "y", split=split)
    _message(excinfo)
    with pytest.raises(DataError, match="bad split"):
        split_labels(pd.DataFrame({"a": [1, 2]}), split)


def test_other_bad_input() -> None:
    frame = _tabular(100)
    with pytest.raises(DataError, match="unknown task"):
        load_dataset(frame, "y", task="ranking")
    with pytest.raises(DataError, match="fewer than two distinct"):
        load_dataset(frame.assign(y=1.0), "y")
    with pytest.raises(DataError, match="max_levels_per_category"):
        load_dataset(frame, "y", max_levels_per_category=0)
    with pytest.raises(DataError, match="both target and id"):
        load_dataset(frame, "y", id_columns=["y"])
    with pytest.raises(DataError, match="empty"):  # two rows cannot fill three splits
        load_dataset(frame.head(2), "y")
