"""The ``evonas`` command line.

Errors in user input exit with status 2 and one line on stderr (no traceback),
and are detected before anything is written. A search in which no candidate
trained successfully exits with status 3 and one line naming the most common
reason (its journal and checkpoint stay, to be read). Ctrl-C exits with status
130 and SIGTERM (how clusters and CI stop a job) with 143, both saying how to
continue the run.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from evonas.evolve.api import (
    RunResult,
    check_space_fits,
    default_out,
    format_best,
    load_data,
    resume_search,
    run_search,
)
from evonas.evolve.budget import format_duration
from evonas.evolve.config import ConfigError, RunConfig, SearchConfig, for_dataset, parse_duration
from evonas.evolve.fidelity import short_training
from evonas.evolve.formats import describe_refit, format_number, format_test_score, objective_label
from evonas.evolve.logbook import no_success_reason
from evonas.evolve.objectives import read_front
from evonas.evolve.records import TestRecord
from evonas.evolve.rundir import RunDir, RunDirError, write_atomic
from evonas.evolve.selection import STRATEGIES
from evonas.fitness import DataError, Dataset, SettingsError, fitted_rows, objective_name
from evonas.fitness.runtime import configure_tensorflow, own_process
from evonas.genome import SearchSpace, SpaceError

USER_ERRORS = (ConfigError, DataError, RunDirError, SettingsError, SpaceError)


class UsageError(Exception):
    """A malformed command line (reported like any other user error)."""


class NoSuccess(Exception):
    """A search finished with no candidate trained successfully (exit status 3)."""


NO_SUCCESS_STATUS = 3


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage dump
        raise UsageError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _whole_number(text: str) -> int:
    """Parse an integer option; its range is checked where the value is used (the configuration's
    message names the key, e.g. ``search.generations must be an integer >= 1``)."""
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="evonas", description="Genetic neural-architecture search over lattices of Dense units."
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="start a new search (no arguments: the Ames demo)")
    run.add_argument("config", nargs="?", help="a TOML configuration (see examples/)")
    run.add_argument(
        "--dataset",
        help="built-in name (ames, mnist5k, digits), a .csv/.parquet path, or images: an .npz (x, y) "
        "or a folder with one subfolder of images per class",
    )
    run.add_argument(
        "--images",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="read the data as images and search conv levels (mnist5k, digits; on by default for an .npz "
        "or a folder); --no-images reads them as flat pixel columns",
    )
    run.add_argument("--target", help="the column to predict")
    run.add_argument("--task", choices=["auto", "regression", "classification"])
    run.add_argument("--population", type=_whole_number, help="individuals per generation")
    run.add_argument("--generations", type=_whole_number, help="generations bred after the initial one")
    run.add_argument(
        "--time-budget",
        dest="time_budget",
        help="stop between generations when the next would not fit: 90s, 10m, 1h30m (search.time_budget)",
    )
    run.add_argument(
        "--ensemble", type=_whole_number, help="predict with the K best distinct networks (search.ensemble)"
    )
    run.add_argument(
        "--multi-fidelity",
        dest="multi_fidelity",
        action=argparse.BooleanOptionalAction,
        help="train each candidate a fifth of the epochs first (on a table of 10,000 training rows or more: a"
        ' quarter of the rows), the best quarter in full (search.multi_fidelity; "auto" in config.toml: the'
        " row sample alone)",
    )
    run.add_argument(
        "--objectives",
        help="val (default), val,params or val,latency: keep the Pareto front of error and size or speed",
    )
    run.add_argument(
        "--selection",
        choices=list(STRATEGIES),
        help="selection strategy (default: nsga2 with two objectives, else tournament)",
    )
    run.add_argument(
        "--replicates",
        type=_whole_number,
        help="evaluate the best networks up to N times (new seeds) and judge them by the mean "
        "(search.replicates, default 1)",
    )
    run.add_argument(
        "--folds",
        type=_whole_number,
        help="judge each network on K cross-validation folds of the train and val rows, raced: a "
        "network trains on the next fold only while it can still win (search.folds, default 1)",
    )
    run.add_argument("--workers", type=_whole_number, help="parallel trainings (default: one per core)")
    where = run.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786)")
    where.add_argument(
        "--engine",
        choices=["loky", "serial"],
        help="loky: worker processes (default); serial: one candidate at a time in this process, no worker "
        "to start (tiny searches, debugging)",
    )
    run.add_argument("--seed", type=_whole_number, help="random seed of the search")
    run.add_argument("--max-epochs", dest="max_epochs", type=_whole_number, help="epoch cap per candidate")
    run.add_argument("--patience", type=_whole_number, help="early-stopping patience in epochs")
    run.add_argument(
        "--refit",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the search, retrain the best on train+val rows (search.refit; on by default)",
    )
    run.add_argument("--out", help="new run directory (default runs/<dataset>-<time>)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    resume = sub.add_parser("resume", help="continue an interrupted run (or extend a finished one)")
    resume.add_argument("run_dir")
    resume.add_argument("--generations", type=_whole_number, help="total generations after the initial one")
    resume.add_argument("--workers", type=_whole_number, help="parallel trainings (default: as configured)")
    resume.add_argument(
        "--time-budget", dest="time_budget", help="bound this resume, from its start: 90s, 10m, 1h30m"
    )
    where = resume.add_mutually_exclusive_group()
    where.add_argument("--scheduler", help="resume on this Dask scheduler (tcp://host:8786); same results")
    where.add_argument("--local", action="store_true", help="resume on local workers, whatever the run used")
    where.add_argument(
        "--engine", choices=["loky", "serial"], help="resume on this local engine, whatever the run used"
    )
    resume.add_argument("--quiet", action="store_true", help="no progress bars")

    show = sub.add_parser("show", help="summarise a run directory")
    show.add_argument("run_dir")
    show.add_argument("--best", type=_whole_number, default=5, help="how many of the best to list")

    lineage = sub.add_parser("lineage", help="ancestry of the best genomes, in architecture terms")
    lineage.add_argument("run_dir")
    which = lineage.add_mutually_exclusive_group()
    which.add_argument("--best", type=_whole_number, help="the K best distinct architectures (default 1)")
    which.add_argument("--id", type=_whole_number, help="one individual, by id")
    lineage.add_argument("--depth", type=_whole_number, help="generations back (default: to generation 0)")
    lineage.add_argument("--dot", help="also write the ancestry as Graphviz DOT to this file")
    lineage.add_argument("--png", help="also draw the ancestry tree to this PNG file")

    report = sub.add_parser("report", help="plots and report.html of a run (in RUN_DIR/report)")
    report.add_argument("run_dir")
    report.add_argument("--out", help="folder for the report (default RUN_DIR/report)")

    predict = sub.add_parser("predict", help="predict raw rows (.csv/.parquet) with the network a run found")
    predict.add_argument("run_dir")
    predict.add_argument(
        "rows",
        help="a .csv or .parquet file of raw rows, with or without the target; for an image run also an "
        ".npz (x) or a folder of images",
    )
    predict.add_argument("--out", help="CSV file to write (default: CSV on standard output)")
    predict.add_argument("--id", type=_whole_number, help="predict with this individual (default: the best)")
    predict.add_argument("--proba", action="store_true", help="add one probability column per class")

    export = sub.add_parser("export", help="save one Keras model taking raw columns (encoding inside)")
    export.add_argument("run_dir")
    export.add_argument("--to", required=True, help="the .keras file to write (outside the run directory)")
    export.add_argument("--id", type=_whole_number, help="export this individual (default: the best)")
    return parser


def _config_from_args(args: argparse.Namespace) -> RunConfig:
    d = (RunConfig.load(args.config) if args.config else RunConfig()).to_dict()
    if args.dataset is not None and args.dataset != d["data"]["dataset"]:
        for k in ("target", "id_columns", "images"):  # they belong to the configuration's own dataset
            d["data"].pop(k, None)
    overrides = {
        "data": {"dataset": args.dataset, "target": args.target, "task": args.task, "images": args.images},
        "search": {
            "population": args.population,
            "generations": args.generations,
            "workers": args.workers,
            "seed": args.seed,
            "scheduler": args.scheduler,
            "engine": "dask" if args.scheduler else args.engine,
            "refit": args.refit,
            "time_budget": args.time_budget,
            "ensemble": args.ensemble,
            "multi_fidelity": args.multi_fidelity,
            "objectives": args.objectives,
            "selection": args.selection,
            "replicates": args.replicates,
            "folds": args.folds,
        },
        "training": {"max_epochs": args.max_epochs, "patience": args.patience},
    }
    return RunConfig.from_dict(d).with_overrides(**overrides)


def _what_features(data: Dataset) -> str:
    """``"64 features"``, or ``"images 28x28x1"``."""
    if data.image_shape:
        return "images " + "x".join(map(str, data.image_shape))
    return f"{data.n_features} features"


def cmd_run(args: argparse.Namespace) -> int:
    started = time.perf_counter()  # the time budget covers the whole command, data loading included
    config = _config_from_args(args)
    data = load_data(config.data)  # bad data fails here, before anything is written
    config = for_dataset(config, data)
    check_space_fits(config.space, data)
    out = Path(args.out) if args.out else default_out(config)
    RunDir.check_new(out)
    print(
        f"evonas: {data.name} ({data.task}, {_what_features(data)}; "
        f"train/val/test {len(data.x_train)}/{len(data.x_val)}/{len(data.x_test)} rows) -> {out}"
    )
    leaks = data.audit["dropped_columns"]["leaks"]
    if leaks:
        reasons = data.audit["dropped_columns"].get("leak_reasons", {})
        shown = "; ".join(f"{c} ({reasons[c]})" if c in reasons else c for c in leaks)
        plural = "s" if len(leaks) > 1 else ""
        print(f"evonas: dropped {len(leaks)} column{plural} that leak the target: {shown}")
    s = config.search
    print(
        f"evonas: population {s.population}, generations "
        f"{s.describe_generations(s.time_budget is not None)} after the initial one, seed {s.seed}"
        + (f", time budget {format_duration(parse_duration(s.time_budget))}" if s.time_budget else "")
        + (f", ensemble of the {s.ensemble} best" if s.ensemble > 1 else "")
        + _fidelity_words(s, data, config.training.max_epochs)
        + _batch_words(config.space, data, s.folds)
        + (
            ", Duan's smearing on the log target"
            if config.training.smearing is True and data.target_transform == "log"
            else ""
        )
        + (f", up to {s.replicates} replicates of the best" if s.replicates > 1 and s.folds == 1 else "")
        + (f", {s.folds}-fold cross-validated fitness (raced)" if s.folds > 1 else "")
        + (f", objectives {','.join(s.objectives)}" if len(s.objectives) > 1 else "")
        + (f", {s.strategy} selection" if s.strategy != "tournament" else "")
        + (f", on the Dask cluster at {s.scheduler}" if s.engine == "dask" else "")
        + (", one candidate at a time in this process" if s.engine == "serial" else "")
    )
    with _interruptible(out):
        result = run_search(config, out, data=data, progress=not args.quiet, started=started)
    _check_success(result)
    _print_outcome(result, 5)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.time_budget is not None:
        parse_duration(args.time_budget)  # a bad value exits 2 before anything is read or written
    run = RunDir.open(args.run_dir)
    config = run.config()
    checkpoint = run.checkpoint()
    target = config.search.generations if args.generations is None else args.generations
    reached = checkpoint["generation"] if checkpoint is not None else -1
    if target < reached:
        raise ConfigError(f"--generations {target} is below the {reached} generations the run already has")
    where = (
        f"after generation {reached}" if checkpoint is not None else "from generation 0 (none had finished)"
    )
    print(
        f"evonas: resuming {run.path} {where} ({len(run.evaluations())} evaluations in the journal "
        f"are reused), until generation {target}"
    )
    with _interruptible(run.path):
        result = resume_search(
            run.path,
            generations=args.generations,
            workers=args.workers,
            engine="dask" if args.scheduler else "loky" if args.local else args.engine,
            scheduler=args.scheduler,
            time_budget=args.time_budget,
            progress=not args.quiet,
            started=started,
        )
    _check_success(result)
    _print_outcome(result, 5)
    return 0


def _check_success(result: RunResult) -> None:
    """Raise :class:`NoSuccess` when no candidate of the finished search trained successfully."""
    reason = result.no_success()
    if reason is not None:
        raise NoSuccess(
            f"no candidate trained successfully in {result.path} ({reason}); nothing to score or predict"
        )


class _interruptible:
    """Turn Ctrl-C and SIGTERM into a clean stop that says how to continue.

    The engine stops its workers as the exception passes through it, the lock is
    released, and the journal and the last checkpoint stay for ``evonas resume``.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        stops = ((KeyboardInterrupt, "interrupted", 130), (Terminated, "terminated", 143))
        for stop, what, status in stops:
            if kind is None or not issubclass(kind, stop):
                continue
            raise Interrupted(
                f"{what}; finished evaluations are saved in {self.path}; "
                f"continue with: evonas resume {self.path}",
                status,
            )
        return False


class Interrupted(Exception):
    """Ctrl-C (exit status 130) or SIGTERM (143) during a search."""

    def __init__(self, message: str, status: int = 130) -> None:
        super().__init__(message)
        self.status = status


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like ``KeyboardInterrupt`` (a ``BaseException``, so that
    no ``except Exception`` on the way swallows it)."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While the command runs, SIGTERM raises :class:`Terminated`; the previous handler comes back after."""
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def _fidelity_words(s: SearchConfig, data: Dataset, max_epochs: int) -> str:
    """``", multi-fidelity (...)"``: the short first training this run's candidates get, or ``""``."""
    cap, rows = short_training(s.multi_fidelity, fitted_rows(data, s.folds), max_epochs)
    if rows is not None:
        return f", multi-fidelity (a sample of {rows:,} train rows first, the best quarter on all)"
    epochs = f"{cap} epoch{'s' if cap != 1 else ''}"
    return f", multi-fidelity ({epochs} first, the best quarter in full)" if cap is not None else ""


def _batch_words(space: SearchSpace, data: Dataset, folds: int) -> str:
    """``", batch sizes 64-2048 (...)"``: the batch-size choices when ``space.batch_scale`` scaled them."""
    if (space.batch_scale or 1) == 1:
        return ""
    batches = space.batches
    return (
        f", batch sizes {batches[0]}-{batches[-1]} (x{space.batch_scale} for "
        f"{fitted_rows(data, folds):,} rows a training)"
    )


def _print_outcome(result: RunResult, k: int) -> None:
    task = result.task
    print(f"\nBest {k} genomes ({objective_name(task)} on the validation split):")
    print(format_best(result.best(k)))
    raw = result.test_score()
    if raw is not None:
        test = TestRecord.from_dict(raw)
        figure = format_test_score(test.best)
        print(f"\nBest genome #{test.id}: {figure} (measured once, on {test.rows} held-out rows)")
        refit = test.refit
        if refit is not None and refit.get("rejected"):
            fallback = "; evonas predict uses the search's model" if test.delivered == "best" else ""
            print(f"Refit on train+val rejected: {refit['error']}{fallback}")
        elif refit is not None and "error" in refit:
            print(f"Refit on train+val failed: {refit['error']}")
        elif refit is not None:
            uses = "; evonas predict uses this model" if test.delivered == "refit" else ""
            print(f"{describe_refit(refit)}: {format_test_score(refit)} (measured once{uses})")
        if test.ensemble is not None:
            _print_ensemble(test.ensemble)
    print(f"\nRun directory: {result.path}   (evonas show {result.path})")


def _print_ensemble(ensemble: dict) -> None:
    """The ensemble's test figures, under the single best network's (``test.json``'s ``ensemble``)."""
    weights = ensemble.get("weights")
    if weights is None:
        members = ", ".join(f"#{i}" for i in ensemble["ids"])
        how = "predictions averaged"
    else:  # greedy selection: each member's share of the rounds (0: not used)
        total = sum(weights.values())
        members = ", ".join(f"#{i} {weights[str(i)] / total:.2f}" for i in ensemble["ids"])
        how = "predictions weighted by greedy selection"
    refit = ensemble.get("refit")
    uses = "" if refit is not None else "; evonas predict uses this ensemble"
    print(
        f"Ensemble of the {len(ensemble['ids'])} best ({members}), {how}: "
        f"{format_test_score(ensemble)} (measured once{uses})"
    )
    if refit is not None:
        kept = refit.get("not_refitted") or []
        note = f", {len(kept)} kept as trained (refit failed or rejected)" if kept else ""
        how = "of the members' fold models" if refit.get("kind") == "folds" else "refitted on train+val"
        print(
            f"Ensemble {how}{note}: {format_test_score(refit)} "
            "(measured once; evonas predict uses this ensemble)"
        )


def cmd_show(args: argparse.Namespace) -> int:
    result = RunResult(args.run_dir)
    cfg = result.config
    s = cfg.search
    print(
        f"Run {result.path}: dataset {cfg.data.dataset} ({result.task}), population {s.population}, "
        f"generations {s.describe_generations(s.time_budget is not None)}, seed {s.seed}"
        + (f", {s.folds} folds" if s.folds > 1 else "")
        + (f", up to {s.replicates} replicates" if s.folds == 1 and s.replicates > 1 else "")
    )
    gens = result.by_generation()
    if gens.empty:
        print("No generation has finished yet.")
        return 0
    print("\nBy generation:")
    print(gens.to_string(float_format=format_number))
    no_success = result.no_success()
    if no_success is None:
        _print_outcome(result, args.best)
    else:
        print(f"\nNo candidate trained successfully; {no_success}.")
    front = read_front(result.path)
    if front is not None:
        _print_front(front, s.objectives, result.task, result.path)
    failed = result.individuals().query("status == 'failed'")
    if not failed.empty:
        print(f"\nFailed candidates ({len(failed)}):")
        for r in failed.drop_duplicates("key").itertuples():
            print(f"  #{r.id} (generation {r.generation}): {r.error}")
    if no_success is None:
        print(f"\nLineage of the best: evonas lineage {result.path}; plots: evonas report {result.path}")
    else:
        print(f"\nNothing to score or predict; plots of the run: evonas report {result.path}")
    return 0


def _print_front(front, objectives: Sequence[str], task: str, path: Path) -> None:
    """``front.csv`` as a table: one line per member, smallest validation objective first."""
    both = " and ".join(objectives)
    print(f"\nPareto front of {both} ({len(front)} distinct networks, {path / 'front.csv'}):")
    if front.empty:
        print("  (no successful candidate yet)")
        return
    names = [objective_label(task) if n == "val" else n for n in objectives]
    print(f"  {'id':>6}" + "".join(f"{h:>12}" for h in names) + "  architecture")
    for r in front.itertuples():
        figures = "".join(f"{format_number(getattr(r, n)):>12}" for n in objectives)
        print(f"  {'#' + str(r.id):>6}{figures}  {r.architecture}")
    print(f"Any member: evonas lineage {path} --id ID; evonas predict {path} ROWS.csv --id ID")


def cmd_lineage(args: argparse.Namespace) -> int:
    from evonas.evolve.lineage import Lineage

    for flag, value, low in (("--best", args.best, 1), ("--id", args.id, 0), ("--depth", args.depth, 0)):
        if value is not None and value < low:
            raise ConfigError(f"{flag} must be >= {low}, got {value}")
    lin = Lineage.load(args.run_dir)
    ids = lin.check([args.id]) if args.id is not None else lin.best_ids(args.best or 1)
    if not ids:
        reason = no_success_reason(lin.rows.values())
        if reason is not None:
            raise RunDirError(
                f"{args.run_dir} has no successful individual (no candidate trained successfully; "
                f"{reason}); use --id ID to follow a failed one"
            )
        raise RunDirError(f"{args.run_dir} has no successful individual yet; use --id ID")
    text = lin.tree_text(ids, args.depth)
    written = lin.save(ids, args.depth, dot=args.dot, png=args.png)
    print(text)
    for path in written:
        print(f"\nevonas: wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from evonas.evolve.report import write_report

    page = write_report(args.run_dir, args.out)
    print(f"evonas: wrote {page} and its plots in {page.parent}")
    reason = RunResult(args.run_dir).no_success()
    if reason is not None:
        print(f"evonas: no candidate trained successfully ({reason}); the report says so")
    return 0


def _check_output(flag: str, out: Path, run_dir: Path, inputs: Sequence[Path] = ()) -> Path:
    """Refuse an output path inside the run directory, over an input file, or in a missing folder."""
    target = out.resolve()
    if target == run_dir.resolve() or run_dir.resolve() in target.parents:
        raise ConfigError(f"{flag} {out} is inside the run directory {run_dir}: choose a path outside it")
    for given in inputs:
        if given.exists() and target == given.resolve():
            raise ConfigError(f"{flag} {out} is the input file: choose another {flag}")
    if target.is_dir():
        raise ConfigError(f"{flag} {out} is a directory: give a file path")
    if not target.parent.is_dir() or not os.access(target.parent, os.W_OK):
        raise ConfigError(f"{flag} {out}: folder {out.parent} does not exist or is not writable")
    return out


def cmd_predict(args: argparse.Namespace) -> int:
    from evonas.evolve.predict import load_predictor

    run = RunDir.open(args.run_dir)
    rows_path = Path(args.rows)
    out = _check_output("--out", Path(args.out), run.path, [rows_path]) if args.out else None
    if not rows_path.exists():
        raise DataError(f"rows file not found: {rows_path}")
    _configure_for(run, args.id)
    predictor = load_predictor(run.path, args.id)
    rows = predictor.read_rows(rows_path)
    frame = predictor.predict_frame(rows, proba=args.proba, where=rows_path.name)
    unseen = frame.attrs.get("unseen_levels", {})
    if unseen:
        shown = ", ".join(f"{c} ({n} row{'s' if n > 1 else ''})" for c, n in unseen.items())
        print(f"evonas: category levels not seen in training, encoded as all zeros: {shown}", file=sys.stderr)
    text = frame.to_csv(index=False)
    if out is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        write_atomic(out, text)
        print(f"evonas: {len(frame)} predictions by {predictor.describe()} -> {out}", file=sys.stderr)
    return 0


def _configure_for(run: RunDir, id: int | None) -> None:
    """TensorFlow as the search had it (the command's own process), before a model is loaded; not when
    the run has no model yet, whose error comes without TensorFlow's import."""
    if id is not None or run.best_model_path.is_file():
        configure_tensorflow(run.config().training.tf_threads)


def cmd_export(args: argparse.Namespace) -> int:
    from evonas.evolve.predict import load_predictor
    from evonas.fitness.export import describe, export_model

    run = RunDir.open(args.run_dir)
    out = _check_output("--to", Path(args.to), run.path)
    if out.suffix != ".keras":
        raise ConfigError(f"--to {out} must end with .keras (the Keras model format)")
    _configure_for(run, args.id)
    predictor = load_predictor(run.path, args.id)
    model = export_model(predictor.encoder, predictor.keras_model)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp.keras")  # same folder: os.replace is atomic
    try:
        model.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    who = predictor.describe() if predictor.members else f"individual #{predictor.id}"
    print(f"evonas: wrote {out} ({describe(predictor.encoder)}; {who})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``evonas`` console script."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    own_process()  # the command's process is evonas' own: gc.freeze once TensorFlow is imported
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(argv or ["run"])
        if args.command is None:
            args = parser.parse_args(["run", *argv])
        commands = {
            "run": cmd_run,
            "resume": cmd_resume,
            "show": cmd_show,
            "lineage": cmd_lineage,
            "report": cmd_report,
            "predict": cmd_predict,
            "export": cmd_export,
        }
        with _sigterm_raises():
            return commands[args.command](args)
    except (UsageError, *USER_ERRORS) as exc:
        print(f"evonas: error: {exc}", file=sys.stderr)
        return 2
    except NoSuccess as exc:
        print(f"evonas: error: {exc}", file=sys.stderr)
        return NO_SUCCESS_STATUS
    except Interrupted as exc:
        print(f"evonas: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("evonas: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("evonas: terminated", file=sys.stderr)
        return 143
    except BrokenPipeError:  # e.g. `evonas show RUN | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
