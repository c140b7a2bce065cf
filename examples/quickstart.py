"""evonas from Python: build a space, load data, run a short search, read the best.

.venv/bin/python examples/quickstart.py            # a small digits search, ~2 minutes on 2 cores
"""

from __future__ import annotations

import tempfile

from evonas import RunConfig, RunResult, load_data, run_search
from evonas.evolve.api import format_best
from evonas.genome import SearchSpace, decode, diff


def main() -> None:
    space = SearchSpace(
        max_levels=3, max_units=3, neuron_choices=(16, 32, 64, 128), batch_sizes=(32, 64, 128)
    )
    config = RunConfig(space=space).with_overrides(
        data={"dataset": "digits"},  # scikit-learn's 8x8 digits; any CSV/Parquet path works too
        search={"population": 8, "generations": 2, "seed": 1},
        training={"max_epochs": 15, "patience": 3},
    )
    data = load_data(config.data)
    print(f"{data.name}: {data.task}, {data.n_features} features, {len(data.x_train)} training rows")

    out = tempfile.mkdtemp(prefix="evonas-quickstart-")
    result: RunResult = run_search(config, f"{out}/run", data=data)

    best = result.best(3)  # a pandas DataFrame: id, generation, operator, val_loss, params, architecture, key
    print(format_best(best))
    print(result.by_generation())  # best / median objective and counts per generation
    print("test:", result.test_score())  # measured once, on the held-out split

    # Every individual is plain data; decode any genome and compare two of them in words.
    individuals = result.individuals().set_index("id")
    winner = individuals.loc[best["id"].iloc[0]]
    for parent_id in winner["parents"]:
        parent = individuals.loc[parent_id]
        changes = diff(decode(space, parent["genes"]), decode(space, winner["genes"]))
        print(f"#{parent_id} -> #{best['id'].iloc[0]}: {'; '.join(changes) or 'same network'}")


if __name__ == "__main__":
    main()
