"""The encoder is fitted on train rows only, saved as plain JSON, and encodes new rows as in training."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from evonas.fitness.data import DataError, load_dataset, split_labels
from evonas.fitness.encoder import Encoder

SPLIT = (0.70, 0.15, 0.15)


def _table(n: int, seed: int, start: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    num = rng.normal(10.0, 3.0, n)
    num[rng.random(n) < 0.1] = np.nan
    return pd.DataFrame(
        {
            "row_id": np.arange(start, start + n),
            "uid": [f"u{i:05d}" for i in range(start, start + n)],
            "num": num,
            "rare_gap": rng.normal(0.0, 1.0, n),  # no missing value in the base rows
            "color": rng.choice(np.array(["red", "green", "blue"], dtype=object), n),
            "code": rng.choice(np.array(["1", "2", "3", "x"], dtype=object), n, p=[0.3, 0.3, 0.39, 0.01]),
            "y": rng.normal(100.0, 20.0, n),
        }
    )


def _test_side_rows(base: pd.DataFrame) -> pd.DataFrame:
    """Odd rows (missing cells, unseen levels, extreme values, a repeated uid) that the split puts in test."""
    extra = _table(400, seed=5, start=10_000)
    extra.loc[::3, "rare_gap"] = np.nan  # a column with no missing train value
    extra.loc[::4, "color"] = "violet"  # a level the train rows never had
    extra.loc[::5, "num"] = 1e30  # far beyond the train range
    extra.loc[::7, "code"] = "unheard-of"
    extra.loc[::2, "uid"] = base["uid"].iloc[0]  # the auto identifier is no longer unique on all rows
    labels = split_labels(extra.drop(columns=["row_id"]), SPLIT)
    return extra[labels == "test"]


def test_rows_added_to_the_test_split_change_neither_the_encoding_nor_train_or_val_features():
    base = _table(600, seed=1)
    extra = _test_side_rows(base)
    assert len(extra) > 30
    before = load_dataset(base, "y", id_columns=["row_id"])
    after = load_dataset(pd.concat([base, extra], ignore_index=True), "y", id_columns=["row_id"])
    assert after.encoder.to_dict() == before.encoder.to_dict()
    assert after.feature_names == before.feature_names
    np.testing.assert_array_equal(after.x_train, before.x_train)
    np.testing.assert_array_equal(after.x_val, before.x_val)
    np.testing.assert_array_equal(after.feature_mean, before.feature_mean)
    assert len(after.x_test) == len(before.x_test) + len(extra)
    assert "rare_gap:missing" not in after.feature_names  # decided on train rows
    assert after.audit["dropped_columns"]["auto_identifiers"] == ["uid"]
    assert np.isfinite(after.x_test).all()


def test_the_dataset_is_the_encoder_applied_to_the_raw_rows():
    frame = _table(500, seed=2)
    data = load_dataset(frame, "y", id_columns=["row_id"])
    labels = split_labels(frame.drop(columns=["row_id"]), SPLIT)
    again = Encoder.from_dict(json.loads(json.dumps(data.encoder.to_dict())))  # through JSON
    assert again == data.encoder
    for side, x in (("train", data.x_train), ("val", data.x_val), ("test", data.x_test)):
        np.testing.assert_array_equal(again.transform(frame[labels == side]).x, x)
    assert again.feature_names == data.feature_names
    assert again.id_columns == ("row_id", "uid")
    # 'code' holds mostly numbers on the train rows: read as numbers, its word a missing value
    code = next(c for c in again.numeric if c.name == "code")
    assert code.words_as_missing and code.indicator


def test_unseen_levels_and_missing_numbers_are_counted_and_encoded_as_in_training():
    frame = _table(500, seed=3)
    enc = load_dataset(frame, "y", id_columns=["row_id"]).encoder
    rows = frame.head(3).copy()
    rows["color"] = ["violet", "red", None]
    rows["num"] = [np.nan, np.inf, 5.0]
    out = enc.transform(rows)
    names = list(enc.feature_names)
    assert out.unseen_levels == {"color": 2}  # violet and <missing>: neither is a train level here
    assert out.missing_values["num"] == 2
    median = next(c.median for c in enc.numeric if c.name == "num")
    assert out.x[0, names.index("num")] == np.float32(median) and out.x[0, names.index("num:missing")] == 1
    assert out.x[2, names.index("num")] == 5.0 and out.x[2, names.index("num:missing")] == 0
    colors = [i for i, n in enumerate(names) if n.startswith("color=")]
    assert out.x[0, colors].sum() == 0 and out.x[1, names.index("color=red")] == 1


def test_missing_columns_are_all_named_and_text_in_a_numeric_column_names_its_row():
    frame = _table(300, seed=4)
    enc = load_dataset(frame, "y", id_columns=["row_id"]).encoder
    with pytest.raises(DataError, match=r"2 feature columns the model needs: 'num', 'color'"):
        enc.transform(frame.drop(columns=["num", "color"]))
    bad = frame.head(5).copy()
    bad["rare_gap"] = bad["rare_gap"].astype(object)
    bad.loc[bad.index[3], "rare_gap"] = "n/a"
    with pytest.raises(DataError, match=r"column 'rare_gap' of the rows holds text \('n/a' on row 4\)"):
        enc.transform(bad)


def test_a_foreign_or_newer_encoder_file_is_refused():
    frame = _table(300, seed=4)
    d = load_dataset(frame, "y", id_columns=["row_id"]).encoder.to_dict()
    with pytest.raises(ValueError, match="format"):
        Encoder.from_dict({**d, "format": 99})
    with pytest.raises(ValueError, match="feature_names"):
        Encoder.from_dict({**d, "feature_names": d["feature_names"][::-1]})
