"""Use the network a search found: predict raw rows, export it for Keras alone, and the estimator.

    .venv/bin/python examples/using_the_model.py [WORK_DIR]

A small search on a table with numeric and text columns (about half a minute on 2
cores), then: ``load_predictor`` on new raw rows (a missing number, an unseen
level), the same rows through the exported ``.keras`` model (what a service
without evonas would load), and ``cross_val_score`` of an ``EvonasRegressor``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from evonas import EvonasRegressor, RunConfig, load_predictor, run_search
from evonas.fitness.export import export_model, input_names

ROOT = Path(__file__).resolve().parents[1]


def houses(n: int, seed: int) -> pd.DataFrame:
    """A made-up table: price from area, rooms and district, with some gaps."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(40, 200, n)
    rooms = rng.integers(1, 7, n).astype(float)
    district = rng.choice(["north", "south", "centre"], n)
    price = 1_500 * area + 8_000 * rooms + 60_000 * (district == "centre") + rng.normal(0, 9_000, n)
    area[rng.random(n) < 0.05] = np.nan
    columns = {"id": np.arange(n), "area": area, "rooms": rooms, "district": district, "price": price}
    return pd.DataFrame(columns)


def main(work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    table = work / "houses.csv"
    houses(800, seed=0).to_csv(table, index=False)
    config = RunConfig().with_overrides(
        data={"dataset": str(table), "target": "price", "id_columns": ["id"]},
        # a tiny search: one candidate at a time in this process (no worker processes to start);
        # leave the engine out for a real search, which trains on one worker per core
        search={"population": 4, "generations": 1, "seed": 0, "engine": "serial"},
        training={"max_epochs": 20},
        space={"max_levels": 2, "max_units": 2},
    )
    run = run_search(config, work / "run", progress=False)
    print("test score of the best:", run.test_score())

    # 1. the Python predictor: raw rows in, prices out (the encoding was fitted on the train rows)
    model = load_predictor(run.path)
    new = pd.DataFrame(
        {"id": [9001, 9002], "area": [120.0, np.nan], "rooms": [3.0, 2.0], "district": ["centre", "harbour"]}
    )
    print("predicted prices:", model.predict(new).round(0))
    print(model.predict_frame(new))  # the id column passes through; `harbour` encodes as all zeros

    # 2. one Keras model with the encoding inside (as `evonas export RUN --to houses.keras` writes)
    import keras
    import tensorflow as tf

    path = work / "houses.keras"
    export_model(model.encoder, model.keras_model).save(path)
    served = keras.models.load_model(path)  # needs only Keras
    names = input_names(model.encoder)
    feed = {
        names["area"]: np.array([[120.0], [np.nan]], dtype="float32"),
        names["rooms"]: np.array([[3.0], [2.0]], dtype="float32"),
        names["district"]: tf.constant([["centre"], ["harbour"]]),
    }
    print("exported model:", np.asarray(served.predict(feed, verbose=0)).reshape(-1).round(0))

    # 3. a scikit-learn estimator whose fit is a search
    from sklearn.model_selection import cross_val_score

    frame = houses(600, seed=1)
    estimator = EvonasRegressor(
        population=3, generations=1, max_epochs=15, space={"max_levels": 1}, engine="serial"
    )
    scores = cross_val_score(estimator, frame.drop(columns=["id", "price"]), frame["price"], cv=3)
    print("cross-validated R^2:", scores.round(3))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="evonas-example-")))
