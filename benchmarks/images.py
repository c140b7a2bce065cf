"""Image search: evonas conv genomes against KerasTuner on a typical conv space, same rows, same trainings.

For each image dataset (``mnist5k``, ``digits``) and seed, evonas runs as a user
runs it (``evonas run examples/mnist5k-images.toml --dataset NAME --seed S``;
its test accuracy is that of what ``evonas predict`` delivers: the refitted
ensemble of the 3 best, the best single network's figures beside it),
and KerasTuner's ``RandomSearch`` tries a typical conv space (1-3 conv blocks of
16-64 filters, 3x3 or 5x5, max pooling, then one Dense layer with dropout,
Adam) for as many trainings as that evonas search made, with the same epoch
cap, patience, split and per-channel scaling. Both are scored once on the
test split evonas never searched on.

The ``textbook`` method is the first individual of every evonas image search
alone (:func:`genome.textbook_genome`: two conv levels and one Dense unit,
Adam), trained once as the search trains it: what a user gets without a search.

Prints one table per dataset (median of the seeds, every seed listed) and the
command. The results stay in ``--out`` (one JSON per search), so ``--report-only``
prints the table again.

    python -m benchmarks.images --datasets mnist5k,digits --seeds 0,1,2
    python -m benchmarks.images --datasets digits --seeds 0 --population 4 --generations 1 --max-epochs 2
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "examples" / "mnist5k-images.toml"


def run_evonas(dataset: str, seed: int, out: Path, extra: list[str]) -> dict[str, Any]:
    """One ``evonas run`` in a subprocess; its test scores, trainings, epochs and wall time."""
    run_dir = out / f"evonas-{dataset}-s{seed}"
    if run_dir.exists():
        subprocess.run(["rm", "-rf", str(run_dir)], check=True)
    command = [
        sys.executable, "-m", "evonas", "run", str(CONFIG.relative_to(ROOT)), "--dataset", dataset,
        "--images", "--seed", str(seed), "--out", str(run_dir), "--quiet", *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"evonas failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    test = json.loads((run_dir / "test.json").read_text())
    records = [json.loads(line) for line in (run_dir / "evaluations.jsonl").read_text().splitlines() if line]
    trained = [r for r in records if r.get("epochs", 0) > 0]  # multi-fidelity: a promoted network twice
    best = json.loads((run_dir / "best" / "model.json").read_text())
    from evonas.evolve.config import RunConfig
    from evonas.genome import decode

    config = RunConfig.load(run_dir / "config.toml")
    individual = next(
        json.loads(line)
        for line in (run_dir / "individuals.jsonl").read_text().splitlines()
        if line and json.loads(line)["id"] == best["id"]
    )
    refit = test.get("refit") or {}
    ensemble = test.get("ensemble") or {}
    scored_refit = refit if "test_accuracy" in refit else {}  # none when it failed or the guard rejected it
    delivered = (ensemble.get("refit") or ensemble or scored_refit or test)["test_accuracy"]  # predict's
    return {
        "method": "evonas",
        "dataset": dataset,
        "seed": seed,
        "test_accuracy": delivered,
        "best_network_accuracy": test["test_accuracy"],
        "best_network_refit_accuracy": refit.get("test_accuracy"),
        "ensemble": len(ensemble.get("ids", [])) or 1,
        "trainings": len({r["key"] for r in records}),  # networks trained (a promoted one counts once)
        "records": len(records),
        "epochs": int(sum(r.get("epochs", 0) for r in trained)),
        "seconds": round(seconds, 1),
        "architecture": decode(config.space, individual["genes"]).describe(),
        "command": shlex.join(["evonas", *command[3:]]),
    }


def run_kerastuner(
    dataset: str, seed: int, trials: int, max_epochs: int, patience: int, out: Path
) -> dict[str, Any]:
    """KerasTuner RandomSearch over a typical conv space on the same split; the best by val loss."""
    from evonas.fitness.data import load_dataset
    from evonas.fitness.runtime import configure_tensorflow

    configure_tensorflow(2)
    import keras
    import keras_tuner as kt

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    data = load_dataset(dataset, images=True)
    keras.utils.set_random_seed(seed)
    shape = data.image_shape

    def build(hp: Any) -> Any:
        inputs = keras.Input((data.n_features,))
        x = keras.layers.Normalization(mean=data.feature_mean, variance=data.feature_var)(inputs)
        x = keras.layers.Reshape(shape)(x)
        for i in range(hp.Int("conv_blocks", 1, 3)):
            x = keras.layers.Conv2D(
                hp.Choice(f"filters_{i}", [16, 32, 64]),
                hp.Choice(f"kernel_{i}", [3, 5]),
                padding="same",
                activation="relu",
            )(x)
            if hp.Boolean(f"pool_{i}", default=True):
                x = keras.layers.MaxPooling2D(2, padding="same")(x)
        x = keras.layers.Flatten()(x)
        x = keras.layers.Dense(hp.Choice("units", [64, 128, 256]), activation="relu")(x)
        x = keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1))(x)
        model = keras.Model(inputs, keras.layers.Dense(data.n_outputs, activation="softmax")(x))
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        model.compile(keras.optimizers.Adam(lr), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = kt.RandomSearch(
        build,
        objective="val_loss",
        max_trials=trials,
        seed=seed,
        directory=str(out / "kerastuner"),
        project_name=f"{dataset}-s{seed}",
        overwrite=True,
    )
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    epochs = [0]

    class CountEpochs(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            epochs[0] += 1

    start = time.perf_counter()
    tuner.search(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=max_epochs,
        batch_size=64,
        callbacks=[stop, CountEpochs()],
        verbose=0,
    )
    model = tuner.get_best_models(1)[0]
    proba = model.predict(data.x_test, batch_size=1024, verbose=0)
    seconds = time.perf_counter() - start
    hp = tuner.get_best_hyperparameters(1)[0].values
    blocks = int(hp["conv_blocks"])
    active = {k: v for k, v in hp.items() if not k[-1].isdigit() or int(k.rsplit("_", 1)[1]) < blocks}
    return {
        "method": "kerastuner",
        "epochs": epochs[0],
        "dataset": dataset,
        "seed": seed,
        "test_accuracy": float(np.mean(np.argmax(proba, axis=1) == data.y_test)),
        "trainings": len(tuner.oracle.trials),
        "seconds": round(seconds, 1),
        "architecture": ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in active.items()
        ),
    }


def run_textbook(dataset: str, seed: int) -> dict[str, Any]:
    """The textbook network of the example's space alone: trained once as the search trains it."""
    import tempfile

    from evonas.evolve.config import RunConfig
    from evonas.fitness.data import load_dataset
    from evonas.fitness.evaluate import evaluate_genome, score_test
    from evonas.genome import decode, textbook_genome

    data = load_dataset(dataset, images=True)
    config = RunConfig.load(CONFIG).with_overrides(search={"seed": seed}).for_data(True)
    space = config.space.for_data(data.task, embeddable=False)
    genes = textbook_genome(space)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "model.keras")
        record = evaluate_genome(space, genes, data, config.training, seed, model_path=path)
        test = score_test(path, data)
    return {
        "method": "textbook",
        "dataset": dataset,
        "seed": seed,
        "test_accuracy": test["test_accuracy"],
        "trainings": 1,
        "epochs": record["epochs"],
        "seconds": round(time.perf_counter() - start, 1),
        "architecture": decode(space, genes).describe(),
    }


def table(results: list[dict[str, Any]], dataset: str) -> str:
    """The markdown table of one dataset: per method the median test accuracy and every seed."""
    lines = [
        "| method | test accuracy, median | seeds | networks trained | epochs | wall time |",
        "|---|---|---|---|---|---|",
    ]
    for method in ("evonas", "kerastuner", "textbook"):
        rows = sorted(
            (r for r in results if r["dataset"] == dataset and r["method"] == method), key=lambda r: r["seed"]
        )
        if not rows:
            continue
        accs = [r["test_accuracy"] for r in rows]
        seeds = ", ".join(f"{r['seed']}: {r['test_accuracy']:.4f}" for r in rows)
        trainings = statistics.median(r["trainings"] for r in rows)
        epochs = statistics.median(r.get("epochs", 0) for r in rows)
        wall = statistics.median(r["seconds"] for r in rows)
        lines.append(
            f"| {method} | {statistics.median(accs):.4f} | {seeds} | {trainings:g} | {epochs:g} | "
            f"{wall / 60:.1f} min |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--datasets", default="mnist5k,digits")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--methods", default="evonas,kerastuner")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "images"))
    parser.add_argument("--population", type=int, help="override the example's population (smoke runs)")
    parser.add_argument("--generations", type=int, help="override the example's generations")
    parser.add_argument("--max-epochs", type=int, help="override the example's epoch cap")
    parser.add_argument("--engine", choices=["loky", "serial"], help="evonas' engine (smoke runs: serial)")
    parser.add_argument("--report-only", action="store_true", help="print the tables of the saved results")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    datasets = args.datasets.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    methods = args.methods.split(",")
    import tomllib

    example = tomllib.loads(CONFIG.read_text())
    max_epochs = args.max_epochs or example["training"]["max_epochs"]
    patience = example["training"]["patience"]
    extra: list[str] = []
    for flag, value in (("--population", args.population), ("--generations", args.generations)):
        if value is not None:
            extra += [flag, str(value)]
    if args.max_epochs:
        extra += ["--max-epochs", str(args.max_epochs)]
    if args.engine:
        extra += ["--engine", args.engine]
    if not args.report_only:
        for dataset in datasets:
            for seed in seeds:
                evonas_file = out / f"evonas-{dataset}-s{seed}.json"
                if "evonas" in methods:
                    result = run_evonas(dataset, seed, out, extra)
                    evonas_file.write_text(json.dumps(result, indent=1))
                    print(
                        f"evonas {dataset} seed {seed}: {result['test_accuracy']:.4f} "
                        f"({result['trainings']} trainings, {result['seconds'] / 60:.1f} min)",
                        flush=True,
                    )
                if "textbook" in methods:
                    result = run_textbook(dataset, seed)
                    (out / f"textbook-{dataset}-s{seed}.json").write_text(json.dumps(result, indent=1))
                    print(f"textbook {dataset} seed {seed}: {result['test_accuracy']:.4f}", flush=True)
                if "kerastuner" in methods:
                    trials = json.loads(evonas_file.read_text())["trainings"] if evonas_file.exists() else 10
                    result = run_kerastuner(dataset, seed, trials, max_epochs, patience, out)
                    (out / f"kerastuner-{dataset}-s{seed}.json").write_text(json.dumps(result, indent=1))
                    print(
                        f"kerastuner {dataset} seed {seed}: {result['test_accuracy']:.4f} "
                        f"({result['trainings']} trainings, {result['seconds'] / 60:.1f} min)",
                        flush=True,
                    )
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    for dataset in datasets:
        print(f"\n{dataset}\n{table(results, dataset)}")
    print(f"\ncommand: python -m benchmarks.images {' '.join(argv if argv is not None else sys.argv[1:])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
