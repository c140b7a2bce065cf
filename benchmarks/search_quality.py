"""Search quality side by side: evonas against the tools a user would pick instead.

    .venv/bin/python -m benchmarks.search_quality --dataset ames --budget 100 --seeds 3
    .venv/bin/python -m benchmarks.search_quality --suite --minutes 5 --seeds 3

On one hash split (train/val/test, the one every evonas run uses) and one budget
of candidate trainings, with the same epoch cap and early stopping for every
neural method:

  evonas-genetic   evonas' default genetic search, generation after generation until
                   the budget is spent (the last generation may overshoot it by a few);
  evonas-random    as many random genomes of the same space as the genetic search trained
                   (no selection, no variation), through the same trainer;
  kt-random        KerasTuner RandomSearch over a typical MLP space (1-3 layers, width,
                   activation, dropout, learning rate; Adam, batch 32), as many trials;
  kt-hyperband     KerasTuner Hyperband over the same MLP space, stopped at as many trials;
  hgb-default      scikit-learn HistGradientBoosting with default settings;
  hgb-tuned        the same on a 3x3 grid (learning rate, leaves), chosen on the val split;
  linear           ridge (regression) or logistic regression (classification), the
                   regularisation chosen on the val split;
  realmlp-td, realmlp-hpo, catboost-default, lightgbm-default
                   the peers of benchmarks/peers.py (pytabkit's RealMLP with its defaults and
                   with its random search, CatBoost and LightGBM with their defaults); a peer
                   whose library is not installed is skipped, with a line saying so.

Budgets: ``--budget B`` trainings (the default), or ``--minutes M`` of wall time:
evonas-genetic then runs generation after generation until M minutes are spent,
stopping at a generation boundary when the next generation would end past M
minutes (evonas' own time budget, ``Search.run_generations``: the last generation's
wall time or its trainings' makespan, whichever is longer). evonas-random and the
KerasTuner tuners get as many trainings as the genetic search used in either mode;
realmlp-hpo gets M minutes
(without --minutes: the genetic search's wall time for that seed).

Tables: ``--dataset NAME`` (ames, mnist5k, computers, sacramento, default, digits) or
``--suite`` for the five public tables of benchmarks/peers.py; ``--report-only --suite``
rebuilds one markdown table over the suite (methods x tables, median test metric, and on how
many tables each evonas method beats realmlp-td and catboost-default). ``--overlay DIR``
(repeatable, with --report-only) reads more result directories: a method found in a later one
replaces that method's results of the earlier ones on that table, so one table shows the peers
of one run beside the evonas rows of another.

Each selects its model on the validation split; the test split is touched once,
at the end, for the selected model only. The scikit-learn references do not
depend on the seed and run once per dataset. Results go to one JSON file per
(dataset, method, seed) under --results, so a long benchmark can be run in
parts; --report-only rebuilds the markdown table and the PNG of best-so-far
against trainings from those files. A leakage audit is printed first.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import tomllib

from benchmarks.peers import (
    DATASETS,
    PEERS,
    SUITE,
    load_table,
    log_loss,
    missing_module,
    peer_frames,
    regression_rmse,
    run_peer,
    scores,
)
from benchmarks.report import (
    METHODS,
    REFERENCES,
    write_report,
    write_suite_report,
)
from evonas.evolve.api import describe_data
from evonas.evolve.config import ConfigError, RunConfig, for_dataset
from evonas.evolve.ensemble import member_paths, read_members
from evonas.evolve.records import TestRecord
from evonas.evolve.rundir import DATA, REFIT, RunDir
from evonas.evolve.search import Search
from evonas.fitness import TrainSettings, score_test
from evonas.fitness.data import Dataset, load_dataset
from evonas.genome import decode

ROOT = Path(__file__).resolve().parents[1]

KT_BATCH = 32
IMAGE_TABLES = ("mnist5k", "digits")  # tables that are images too (--images)


# -- the audit ----------------------------------------------------------------
def _row_digests(*arrays: np.ndarray) -> set[bytes]:
    rows = np.ascontiguousarray(np.hstack([a.reshape(len(a), -1).astype("float64") for a in arrays]))
    return {hashlib.blake2b(r.tobytes(), digest_size=16).digest() for r in rows}


def leakage_audit(data: Dataset) -> list[str]:
    """Checks on the encoded matrices the methods see (not only on what the loader says it did)."""
    a = data.audit
    target = data.target
    named = [f for f in data.feature_names if f == target or f.startswith(f"{target}=")]
    train = _row_digests(data.x_train)
    val, test = _row_digests(data.x_val), _row_digests(data.x_test)
    lines = [
        f"dataset {data.name}: task {data.task}, target {target!r}, {data.n_features} encoded features",
        f"split sizes: train {len(data.x_train)}, val {len(data.x_val)}, test {len(data.x_test)}"
        f" ({a['split_method']})",
        f"target among the features: {'YES: ' + ', '.join(named) if named else 'no'}",
        f"identifier columns dropped: {a['dropped_columns']['identifiers'] or 'none found'};"
        f" columns dropped as leaks: {a['dropped_columns']['leaks'] or 'none'}",
        f"identical feature rows across splits: train&val {len(train & val)}, train&test {len(train & test)},"
        f" val&test {len(val & test)}",
    ]
    if data.task == "regression":
        worst = max(
            abs(float(np.corrcoef(data.x_train[:, j], data.y_train)[0, 1]))
            for j in range(data.n_features)
            if np.std(data.x_train[:, j]) > 0
        )
        lines.append(f"largest |correlation| of a feature with the target (train): {worst:.3f}")
    if named:
        raise SystemExit("leakage audit failed: the target is among the features")
    return lines


# -- metrics (regression_rmse, log_loss, scores: benchmarks/peers.py) ------------------
def best_so_far(values: list[float | None]) -> list[float]:
    out, best = [], math.inf
    for v in values:
        if v is not None and math.isfinite(v):
            best = min(best, v)
        out.append(best)
    return out


# -- evonas ---------------------------------------------------------------------
def candidate_summary(cfg: RunConfig, record: dict[str, Any], genes: list[int]) -> dict[str, Any]:
    """One trained candidate as plain data: its score and what its network looks like."""
    arch = decode(cfg.space, np.asarray(genes, dtype="int64"))
    return {
        "objective": record["objective"],
        "params": record["params"],
        "levels": arch.n_levels,
        "units": len(arch.units),
        **arch.connection_counts(),
        "batchnorm": sum(u.batchnorm for u in arch.units),
        "optimizer": arch.optimizer,
        "batch_size": arch.batch_size,
    }


def run_evonas(
    data: Dataset,
    dataset: str,
    seed: int,
    budget: int,
    random_only: bool,
    settings: TrainSettings,
    workdir: Path,
    minutes: float | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    whole: bool = False,
) -> dict[str, Any]:
    """One evonas search: ``budget`` trainings, or (genetic, ``minutes`` given) M minutes of wall time.

    ``overrides``: config sections to change (``--set search.ensemble=3``); image data
    (``data.images``, ``--images``) gets the image settings of ``evonas run``
    (:meth:`RunConfig.for_data`). The test figure is that of the delivered model:
    the ensemble when ``search.ensemble`` > 1, refitted with ``search.refit``.

    In the time mode the genetic search breeds generation after generation and stops at a
    generation boundary once the next one would end past M minutes (the runner's time budget,
    :meth:`evolve.search.Search.run_generations`; the clock starts before the workers do);
    generation 0 always runs. The random search trains ``budget`` random genomes as one population
    in either mode. ``whole``: the M minutes cover the whole command (the refits and the test
    score after the search, reserved as ``evonas run --time-budget`` does), not the search alone.
    """
    # the default population (10); a smoke-test budget gets a smaller one
    population = (
        budget if random_only else (10 if budget >= 20 or minutes is not None else max(3, budget // 2))
    )
    extra = {section: dict(values) for section, values in (overrides or {}).items()}
    cfg = for_dataset(
        RunConfig().with_overrides(
            data={"dataset": dataset, **extra.pop("data", {})},
            search={"seed": seed, "population": population, **extra.pop("search", {})},
            training={
                "max_epochs": settings.max_epochs,
                "patience": settings.patience,
                **extra.pop("training", {}),
            },
            **extra,
        ),
        data,
    )
    run = RunDir.create(workdir / ("random" if random_only else "genetic"), cfg)
    start = time.perf_counter()
    with run.lock():
        run.write_json(DATA, describe_data(data))
        search = Search(
            run, cfg, data, progress=sys.stderr.isatty(), log=lambda line: print("   ", line, flush=True)
        )
        # the runner's stop rules: random search is generation 0 alone; genetic, the trainings or the minutes
        search.run_generations(
            0 if random_only else math.inf,
            time_budget=None if minutes is None else minutes * 60,
            trainings=budget if minutes is None else None,
            reserve_end=whole,  # else M minutes of search, the refits after them (as the figures before)
            started=start if whole else None,
        )
        test = search.score_best_on_test()
    seconds = time.perf_counter() - start
    records = run.evaluations()
    best = search.best
    genes_of = {row["key"]: row["genes"] for row in run.individuals()}
    objectives = [r["objective"] for r in records]
    metric = "test_rmse" if data.task == "regression" else "test_accuracy"
    ensemble = test.get("ensemble")
    record = TestRecord.from_dict(test)
    delivered = record.delivered_scores()  # what evonas predict uses (evolve.delivered decides it)
    alone = TestRecord.from_dict({k: v for k, v in test.items() if k != "ensemble"})
    result: dict[str, Any] = {
        "val": best.objective,
        "test": delivered[metric],
        "test_single": test[metric],
        # the single best as delivered without an ensemble: its refit, or itself when there is none
        # (search.refit off, or the refit failed or was rejected by the guard)
        "test_single_refit": alone.delivered_scores()[metric],
        "ensemble": cfg.search.ensemble,
        "overrides": overrides or {},
        "trainings": len(records),
        "seconds": seconds,
        "curve": best_so_far(objectives),
        "selected": decode(cfg.space, best.genes).describe(),
        "generations": search.generation + 1,
        "minutes": None if random_only else minutes,
        "candidates": [candidate_summary(cfg, r, genes_of[r["key"]]) for r in records],
    }
    # the refit guard's verdicts (ok | rejected | failed): the best's refit, then each member's
    result["refit_status"] = (run.read_json(REFIT) or {}).get("status")
    result["members_refit"] = [(m.get("refit") or {}).get("status") for m in read_members(run)]
    result["member_ids"] = [m["id"] for m in read_members(run)]  # best first
    if ensemble is not None:
        result["ensemble_curve"] = ensemble_curve(run, data, metric)  # the top-k plain means
        result["weights"] = ensemble.get("weights")  # search.ensemble_weights = "greedy": id -> rounds
    if data.task == "classification":
        result["test_loss"] = delivered["test_loss"]
        by_key = {r["key"]: r for r in records if r.get("replicate", 0) == 0}
        result["val_accuracy"] = by_key[best.key]["metrics"]["val_accuracy"]
    return result


def ensemble_curve(run: RunDir, data: Dataset, metric: str) -> list[dict[str, Any]]:
    """The test figure of the ensemble of the k best members, for k = 1..K, from one search: the members as
    the search trained them (``own``), refitted on train+val (``refit``, the delivered kind), and both
    sets together (``both``, 2k models). The ablation of the ensemble size and of the refit, measured
    after the search on the test split (never used to choose anything inside a search)."""
    members = read_members(run)
    curve = []
    for k in range(1, len(members) + 1):
        own = [str(p) for p in member_paths(run, members[:k], False)]
        refitted = [str(p) for p in member_paths(run, members[:k], True)]
        row: dict[str, Any] = {"k": k}
        for name, paths in (("own", own), ("refit", refitted), ("both", own + refitted)):
            scores = score_test(paths, data)
            row[name] = scores[metric]
            if "test_loss" in scores:
                row[f"{name}_loss"] = scores["test_loss"]
        curve.append(row)
    return curve


def parse_sets(items: list[str]) -> dict[str, dict[str, Any]]:
    """``["search.ensemble=3"]`` -> ``{"search": {"ensemble": 3}}`` (values read as TOML)."""
    sections: dict[str, dict[str, Any]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not section or not key:
            raise ValueError(f"--set wants SECTION.KEY=VALUE, got {item!r}")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()  # a bare word: a string
        sections.setdefault(section, {})[key] = value
    try:
        RunConfig().with_overrides(**sections)
    except ConfigError as exc:
        raise ValueError(f"--set: {exc}") from None
    return sections


def load_image_table(name: str) -> Dataset:
    """An image table as ``evonas run --dataset NAME --images`` loads it (the same rows as ``load_table``)."""
    defaults = RunConfig().data
    return load_dataset(name, images=True, target_transform=defaults.target_transform)


# -- KerasTuner -----------------------------------------------------------------
def run_keras_tuner(
    data: Dataset, seed: int, trials: int, hyperband: bool, settings: TrainSettings, workdir: Path
) -> dict[str, Any]:
    import keras
    import keras_tuner as kt

    warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
    keras.utils.set_random_seed(seed)  # initial weights and dropout: reproducible per seed
    regression = data.task == "regression"
    y, yv = data.y_train, data.y_val
    if regression:  # the same (transformed and) standardised target evonas trains on
        y, yv = data.model_targets(y), data.model_targets(yv)

    def build(hp):
        inputs = keras.Input((data.n_features,))
        x = keras.layers.Normalization(mean=data.feature_mean, variance=data.feature_var)(inputs)
        activation = hp.Choice("activation", ["relu", "tanh", "elu"])
        dropout = hp.Float("dropout", 0.0, 0.5, step=0.1)
        for i in range(hp.Int("layers", 1, 3)):
            x = keras.layers.Dense(hp.Choice(f"units_{i}", [32, 64, 128, 256, 512]), activation=activation)(x)
            if dropout > 0:
                x = keras.layers.Dropout(dropout)(x)
        if regression:
            out, loss = keras.layers.Dense(1)(x), "mse"
        else:
            out, loss = (
                keras.layers.Dense(data.n_outputs, activation="softmax")(x),
                "sparse_categorical_crossentropy",
            )
        model = keras.Model(inputs, out)
        lr = hp.Float("learning_rate", 1e-4, 1e-2, sampling="log")
        model.compile(optimizer=keras.optimizers.Adam(lr), loss=loss)
        return model

    common = dict(objective="val_loss", seed=seed, directory=str(workdir), overwrite=True)
    if hyperband:
        tuner = kt.Hyperband(
            build,
            max_epochs=settings.max_epochs,
            factor=3,
            hyperband_iterations=100,
            project_name="hyperband",
            **common,
        )
        tuner.oracle.max_trials = trials
    else:
        tuner = kt.RandomSearch(build, max_trials=trials, project_name="random", **common)
    stop = keras.callbacks.EarlyStopping(patience=settings.patience, restore_best_weights=True)
    start = time.perf_counter()
    tuner.search(
        data.x_train,
        y,
        validation_data=(data.x_val, yv),
        epochs=settings.max_epochs,
        batch_size=KT_BATCH,
        callbacks=[stop],
        verbose=0,
    )
    model = tuner.get_best_models(1)[0]
    val_out = model.predict(data.x_val, batch_size=1024, verbose=0)
    test_out = model.predict(data.x_test, batch_size=1024, verbose=0)
    seconds = time.perf_counter() - start
    if regression:
        val_out, test_out = data.from_model_outputs(val_out), data.from_model_outputs(test_out)
    ordered = sorted(tuner.oracle.trials.values(), key=lambda t: t.trial_id)
    trial_scores = [t.score for t in ordered]
    if regression and data.target_transform == "none":  # val MSE of the standardised target -> RMSE
        trial_scores = [None if s is None else math.sqrt(s) * data.target_std for s in trial_scores]
    hp = tuner.get_best_hyperparameters(1)[0].values
    # KerasTuner keeps values of inactive parameters (units of layers the model does not have)
    hp = {k: v for k, v in hp.items() if not k.startswith("units_") or int(k.split("_")[1]) < hp["layers"]}
    return {
        **scores(data, val_out, test_out),
        "trainings": len(ordered),
        "seconds": seconds,
        "curve": best_so_far(trial_scores),
        "selected": ", ".join(
            f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in hp.items()
            if not k.startswith("tuner/")
        ),
    }


# -- scikit-learn references -----------------------------------------------------------
def run_reference(data: Dataset, method: str) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import LogisticRegression, Ridge

    regression = data.task == "regression"
    scale = np.sqrt(data.feature_var)

    def standard(x):
        return (x - data.feature_mean) / scale

    if method == "linear":
        if regression:
            grid = [{"alpha": a} for a in np.logspace(-2, 4, 7)]
            build = lambda g: Ridge(**g)  # noqa: E731
        else:
            grid = [{"C": c} for c in np.logspace(-3, 1, 5)]
            build = lambda g: LogisticRegression(max_iter=2000, **g)  # noqa: E731
        prep = standard
    else:
        cls = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        grid = [{}]
        if method == "hgb-tuned":
            grid = [
                {"learning_rate": lr, "max_leaf_nodes": n} for lr in (0.05, 0.1, 0.2) for n in (15, 31, 63)
            ]
        build = lambda g: cls(random_state=0, **g)  # noqa: E731
        prep = lambda x: x  # noqa: E731
    start = time.perf_counter()
    best: tuple[float, Any, dict, np.ndarray] | None = None
    curve_values = []
    for g in grid:
        model = build(g).fit(prep(data.x_train), data.y_train)
        out = model.predict(prep(data.x_val)) if regression else model.predict_proba(prep(data.x_val))
        val = regression_rmse(out, data.y_val) if regression else log_loss(out, data.y_val)
        curve_values.append(val)
        if best is None or val < best[0]:
            best = (val, model, g, out)
    _, model, g, val_out = best
    predict = model.predict if regression else model.predict_proba
    result = {
        **scores(data, val_out, predict(prep(data.x_test))),  # test: once, for the selected model
        "trainings": len(grid),
        "seconds": time.perf_counter() - start,
        "curve": best_so_far(curve_values),
        "selected": ", ".join(f"{k}={v:g}" for k, v in g.items()) or "defaults",
    }
    return result


# -- main ------------------------------------------------------------------------------------
def _in_fresh_process(fn: Any, *args: Any) -> Any:
    """Run ``fn(*args)`` in a fresh spawned process: its library's threads and defaults, not
    TensorFlow as evonas configured this process for scoring (and no torch next to TensorFlow)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def run_dataset(args: argparse.Namespace, dataset: str, methods: list[str]) -> None:
    """Run the chosen methods on one table and save one JSON file per (method, seed)."""
    settings = TrainSettings(max_epochs=args.max_epochs, patience=args.patience)
    data, frame, ids = load_table(dataset)
    # what evonas searches on: the image mode of an image table with --images (the same rows, split alike)
    searched = load_image_table(dataset) if args.images and dataset in IMAGE_TABLES else data
    print("leakage audit:")
    for line in leakage_audit(data):
        print("  " + line)
    frames = peer_frames(data, frame, ids) if any(m in PEERS for m in methods) else None
    if frames is not None:
        print(
            f"  peers: the same rows, {frames.x_train.shape[1]} columns,"
            f" {len(frames.categorical)} of them categorical"
        )
    args.results.mkdir(parents=True, exist_ok=True)

    def save(method: str, seed: int | None, result: dict[str, Any]) -> None:
        result.update(
            method=method,
            seed=seed,
            dataset=dataset,
            task=data.task,
            budget=args.budget,
            max_epochs=settings.max_epochs,
            patience=settings.patience,
        )
        name = f"{dataset}__{method}__{'ref' if seed is None else f'seed{seed}'}.json"
        (args.results / name).write_text(json.dumps(result, indent=1) + "\n")
        print(
            f"  {method} seed {seed}: val {result['val']:.6g}, test {result['test']:.6g}, "
            f"{result['trainings']} trainings, {result['seconds']:.0f}s",
            flush=True,
        )

    for method in [m for m in methods if m in REFERENCES]:
        save(method, None, run_reference(data, method))
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        budget, genetic_seconds = args.budget, None
        genetic_file = args.results / f"{dataset}__evonas-genetic__seed{seed}.json"
        if "evonas-genetic" not in methods and genetic_file.exists():
            # a run in parts: the others still get as many trainings as the genetic search used
            saved = json.loads(genetic_file.read_text())
            budget, genetic_seconds = saved["trainings"], saved["seconds"]
        with tempfile.TemporaryDirectory(prefix="evonas-bench-") as tmp:
            work = Path(tmp)
            if "evonas-genetic" in methods:
                what = f"{args.minutes:g} minutes" if args.minutes is not None else f"budget {budget}"
                print(f"evonas-genetic, seed {seed}, {what}", flush=True)
                genetic = run_evonas(
                    searched,
                    dataset,
                    seed,
                    budget,
                    False,
                    settings,
                    work,
                    args.minutes,
                    args.set,
                    whole=args.whole_command,
                )
                save("evonas-genetic", seed, {**genetic, "images": searched is not data})
                budget, genetic_seconds = genetic["trainings"], genetic["seconds"]  # the others: as many
            if "evonas-random" in methods:
                print(f"evonas-random, seed {seed}, {budget} trainings", flush=True)
                random_run = run_evonas(searched, dataset, seed, budget, True, settings, work, None, args.set)
                save("evonas-random", seed, {**random_run, "images": searched is not data})
            for method, hyperband in (("kt-random", False), ("kt-hyperband", True)):
                if method in methods:
                    print(f"{method}, seed {seed}, {budget} trials", flush=True)
                    result = _in_fresh_process(
                        run_keras_tuner, data, seed, budget, hyperband, settings, work / method
                    )
                    save(method, seed, result)
                    shutil.rmtree(work / method, ignore_errors=True)
        for method in [m for m in methods if m in PEERS]:
            seconds = None
            if method == "realmlp-hpo":
                seconds = args.minutes * 60 if args.minutes is not None else genetic_seconds
                if seconds is None:
                    print(f"realmlp-hpo, seed {seed}: skipped (give --minutes, or run evonas-genetic first)")
                    continue
            print(f"{method}, seed {seed}" + (f", {seconds:.0f} s" if seconds else ""), flush=True)
            result = _in_fresh_process(run_peer, method, data, frames, seed, seconds, args.realmlp_epochs)
            save(method, seed, result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="evonas vs random search, KerasTuner, gradient boosting, linear and the peers"
    )
    parser.add_argument("--dataset", choices=DATASETS, default="ames")
    parser.add_argument(
        "--suite", action="store_true", help="every table of the public suite: " + ", ".join(SUITE)
    )
    parser.add_argument("--budget", type=int, default=100, help="candidate trainings per neural method")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="wall-time budget of the genetic search (instead of --budget) and of realmlp-hpo",
    )
    parser.add_argument(
        "--whole-command",
        action="store_true",
        help="--minutes bound the whole evonas command (refits and test score reserved, as evonas run"
        " --time-budget does), not the search alone",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..S-1 for the seeded methods")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument(
        "--methods", default=",".join(METHODS), help="comma-separated subset of: " + ", ".join(METHODS)
    )
    parser.add_argument("--max-epochs", type=int, default=TrainSettings().max_epochs)
    parser.add_argument("--patience", type=int, default=TrainSettings().patience)
    parser.add_argument(
        "--realmlp-epochs", type=int, default=None, help="RealMLP's epochs (smoke tests; default: its own)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="a config key of the evonas searches, e.g. search.ensemble=3 (a TOML value; repeatable)",
    )
    parser.add_argument(
        "--images",
        action="store_true",
        help="evonas searches the image tables (" + ", ".join(IMAGE_TABLES) + ") as images, with conv levels",
    )
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--overlay",
        type=Path,
        action="append",
        default=[],
        metavar="DIR",
        help="with --report-only: also read results from DIR; a method DIR has for a table replaces that"
        " method's results read before (repeatable, later wins)",
    )
    parser.add_argument(
        "--report-dir",
        type=Path,
        default=None,
        help="where the tables and pictures go (default: docs/benchmarks for the default --results,"
        " else DIR/report beside the results they show)",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild the tables and pictures from --results"
    )
    args = parser.parse_args(argv)
    if args.report_dir is None:  # the pages docs/ shows belong to the default results only
        default = args.results.resolve() == (ROOT / "benchmarks" / "results").resolve()
        args.report_dir = ROOT / "docs" / "benchmarks" if default else args.results / "report"
    try:
        args.set = parse_sets(args.set)
    except ValueError as exc:
        parser.error(str(exc))
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if args.overlay and not args.report_only:
        parser.error("--overlay only with --report-only (results are written to --results)")
    if unknown or args.budget < 2 or args.seeds < 1 or (args.minutes is not None and args.minutes <= 0):
        parser.error(
            f"unknown methods {unknown}"
            if unknown
            else "--budget must be >= 2, --seeds >= 1 and --minutes > 0"
        )
    for method in list(methods):
        module = missing_module(method)
        if module is not None and not args.report_only:
            print(f"{method}: skipped ({module} is not installed: pip install -e '.[bench]')")
            methods.remove(method)
    datasets = list(SUITE) if args.suite else [args.dataset]
    for dataset in datasets:
        if not args.report_only:
            run_dataset(args, dataset, methods)
        command = (
            f".venv/bin/python -m benchmarks.search_quality --dataset {dataset}"
            + (f" --minutes {args.minutes:g}" if args.minutes is not None else f" --budget {args.budget}")
            + (" --whole-command" if args.whole_command else "")
            + f" --seeds {args.seeds}"
            + (f" --max-epochs {args.max_epochs}" if args.max_epochs != TrainSettings().max_epochs else "")
            + (f" --patience {args.patience}" if args.patience != TrainSettings().patience else "")
            + (f" --realmlp-epochs {args.realmlp_epochs}" if args.realmlp_epochs is not None else "")
        )
        write_report(args.results, dataset, args.report_dir, command, args.overlay)
    if args.suite:
        write_suite_report(
            args.results,
            args.report_dir,
            ".venv/bin/python -m benchmarks.search_quality --suite --report-only"
            + (f" --results {args.results}" if args.overlay else "")
            + "".join(f" --overlay {d}" for d in args.overlay),
            args.overlay,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
