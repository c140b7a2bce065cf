"""search.objectives: parsing, the Pareto front, front.csv and the hypervolume (pure, no training)."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evonas.evolve.objectives import (
    ObjectivesError,
    dominates,
    front_csv,
    front_rows,
    hypervolume_2d,
    pareto_mask,
    parse_objectives,
)
from evonas.genome import SearchSpace, random_genome

SPACE = SearchSpace(max_levels=2, max_units=2)
values = st.one_of(st.integers(0, 6).map(float), st.just(math.inf))


@pytest.mark.parametrize("value", ["val", "val,params", " val , latency ", ["val", "params"], ("val",)])
def test_the_objectives_that_parse(value):
    names = parse_objectives(value)
    assert names[0] == "val" and len(names) in (1, 2)


@pytest.mark.parametrize("value", ["params", "val,val", "val,params,latency", "", 3, ["val", 1], "val,size"])
def test_the_objectives_that_do_not(value):
    with pytest.raises(ObjectivesError, match="search.objectives must be val, val,params or val,latency"):
        parse_objectives(value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(values, values), max_size=12))
def test_the_front_is_exactly_the_undominated_finite_points(points):
    mask = pareto_mask(points)
    for p, on in zip(points, mask, strict=True):
        finite = all(math.isfinite(v) for v in p)
        assert on == (finite and not any(dominates(q, p) for q in points))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 8)), max_size=8))
def test_the_hypervolume_is_the_area_of_the_dominated_cells(points):
    reference = (8, 8)
    cells = sum(
        any(x <= i and y <= j for x, y in points) for i, j in itertools.product(range(8), range(8))
    )  # unit cells [i, i+1] x [j, j+1] below the reference dominated by some point
    assert hypervolume_2d(points, reference) == pytest.approx(cells)


def rows():
    rng = np.random.default_rng(0)
    genes = [random_genome(SPACE, rng).tolist() for _ in range(6)]
    figures = [(3.0, 100), (1.0, 900), (2.0, 100), (2.0, 100), (5.0, 50), (None, 10)]
    out = []
    for i, ((val, params), g) in enumerate(zip(figures, genes, strict=True)):
        out.append({"id": i, "key": f"k{i if i != 3 else 2}", "status": "ok" if val else "failed",
                    "objective": val, "params": params, "genes": g})  # fmt: skip
    return out


def test_front_rows_keep_one_individual_per_key_and_no_failure():
    front = front_rows(rows(), ("val", "params"))
    assert [f["id"] for f in front] == [1, 2, 4]  # #0 is dominated by #2, #3 repeats #2's key, #5 failed
    assert [(f["val"], f["params"]) for f in front] == [(1.0, 900), (2.0, 100), (5.0, 50)]


def test_front_csv_round_trips_through_pandas():
    front = front_rows(rows(), ("val", "params"))
    table = pd.read_csv(io.StringIO(front_csv(front, ("val", "params"), SPACE)))
    assert list(table.columns) == ["id", "val", "params", "architecture"]
    assert table["id"].tolist() == [1, 2, 4] and table["params"].dtype.kind == "i"
    assert table["val"].tolist() == [1.0, 2.0, 5.0] and table["architecture"].str.contains("level").all()


def test_a_latency_front_has_its_spread():
    data = [dict(r, latency_ms=float(r["params"]) / 10, latency_spread_ms=0.5) for r in rows()]
    data[1]["latency_spread_ms"] = None
    front = front_rows(data, ("val", "latency"))
    table = pd.read_csv(io.StringIO(front_csv(front, ("val", "latency"), SPACE)))
    assert list(table.columns) == ["id", "val", "latency", "latency_spread", "architecture"]
    assert math.isnan(table["latency_spread"][0]) and table["latency_spread"][1] == 0.5  # missing: empty
