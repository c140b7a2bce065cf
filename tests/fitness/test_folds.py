"""Cross-validation folds (``search.folds``): a row's fold depends on that row alone, the folds
partition the train and validation rows, the test rows are never in one, and a fold count the data
cannot give is refused with one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evonas.fitness import FoldError, check_folds, fold_data, load_dataset, row_sample
from evonas.fitness.folds import pooled_folds


def frame(n: int, seed: int, classes: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    y = x @ [1.0, -2.0, 0.5] + rng.normal(scale=0.1, size=n)
    out = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    out["y"] = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1])) if classes else y
    return out


def folds_by_hash(data, k: int) -> dict[int, int]:
    hashes = np.concatenate([data.hash_train, data.hash_val])
    return dict(zip(hashes.tolist(), pooled_folds(data, k).tolist(), strict=True))


def test_a_rows_fold_depends_on_that_row_alone():
    rows = frame(400, 0)
    more = pd.concat([rows, frame(300, 1)], ignore_index=True)  # more rows: some train, some val, some test
    small, large = load_dataset(rows, "y"), load_dataset(more, "y")
    a, b = folds_by_hash(small, 5), folds_by_hash(large, 5)
    assert set(a) <= set(b)  # a row keeps its side of the split
    assert all(b[h] == fold for h, fold in a.items())  # and its fold
    assert sorted(set(a.values())) == [0, 1, 2, 3, 4]
    shuffled = load_dataset(rows.sample(frac=1.0, random_state=3), "y")  # the order of the rows: nothing
    assert folds_by_hash(shuffled, 5) == a


def test_the_folds_partition_the_train_and_val_rows_and_leave_the_test_rows_alone():
    data = load_dataset(frame(300, 2), "y")
    pooled = np.concatenate([data.x_train, data.x_val])
    seen = []
    for r in range(3):
        fold = fold_data(data, r, 3)
        assert len(fold.x_train) + len(fold.x_val) == len(pooled) and len(fold.x_val) > 0
        assert fold.x_test is data.x_test and fold.y_test is data.y_test
        assert fold.encoder is data.encoder and fold.target_std == data.target_std
        assert not set(fold.hash_train.tolist()) & set(fold.hash_val.tolist())
        assert (
            pooled_folds(data, 3)[np.isin(np.concatenate([data.hash_train, data.hash_val]), fold.hash_val)]
            == r
        ).all()
        seen += fold.hash_val.tolist()
    assert sorted(seen) == sorted(np.concatenate([data.hash_train, data.hash_val]).tolist())
    assert fold_data(data, 0, 1) is data  # one fold: the run's own split
    with pytest.raises(ValueError, match="fold 3 is not in 0..2"):
        fold_data(data, 3, 3)


def test_a_fold_count_the_data_cannot_give_is_one_clear_error():
    data = load_dataset(frame(300, 4, classes=3), "y", task="classification")
    check_folds(data, 5)  # every class has far more than 5 rows
    rare = frame(300, 4, classes=3)
    rare.loc[:2, "y"] = 7  # a class of 3 rows, some of which land in test
    data = load_dataset(rare, "y", task="classification")
    pooled = int((np.concatenate([data.y_train, data.y_val]) == data.classes.index(7)).sum())
    with pytest.raises(FoldError, match=r"search.folds = 5 .* class 7") as caught:
        check_folds(data, 5)
    assert len(str(caught.value).splitlines()) == 1 and str(pooled) in str(caught.value)
    tiny = load_dataset(frame(40, 5), "y")
    with pytest.raises(FoldError, match="search.folds = 500 is more than the"):
        check_folds(tiny, 500)


def test_a_row_sample_is_decided_by_the_rows_content_not_their_order():
    rows = frame(600, 4)
    data = load_dataset(rows, "y")
    sample = row_sample(data, 100)
    assert len(sample.y_train) == 100 and len(set(sample.hash_train.tolist())) == 100
    assert set(sample.hash_train.tolist()) <= set(data.hash_train.tolist())
    kept = np.isin(data.hash_train, sample.hash_train)
    assert np.array_equal(sample.x_train, data.x_train[kept])  # in their order in the data
    assert np.array_equal(sample.y_train, data.y_train[kept])
    assert sample.x_val is data.x_val and sample.x_test is data.x_test and sample.encoder is data.encoder
    shuffled = row_sample(load_dataset(rows.sample(frac=1.0, random_state=5), "y"), 100)
    assert set(shuffled.hash_train.tolist()) == set(sample.hash_train.tolist())
    # not the rows of the smallest hashes (those are a fold's pattern): a draw across the hashes
    assert set(sample.hash_train.tolist()) != set(np.sort(data.hash_train)[:100].tolist())
    assert row_sample(data, len(data.y_train)) is data
    fold = fold_data(data, 1, 3)  # a fold's sample: from its own train rows
    assert set(row_sample(fold, 50).hash_train.tolist()) <= set(fold.hash_train.tolist())
