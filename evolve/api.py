"""The Python API: start a search, and read a run directory as pandas tables.

Example:
    >>> from evonas import RunConfig, run_search
    >>> cfg = RunConfig().with_overrides(search={"population": 8, "generations": 2})
    >>> result = run_search(cfg, "runs/my-ames")       # doctest: +SKIP
    >>> result.best(5)                                  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from evonas.evolve.config import ConfigError, DataConfig, RunConfig, SearchConfig, for_dataset, parse_duration
from evonas.evolve.engine import make_engine, quiet_worker_restarts
from evonas.evolve.formats import format_number, objective_label
from evonas.evolve.logbook import by_generation, no_success_reason
from evonas.evolve.rundir import CONFIG, DATA, ENCODER, TEST, RunDir, drop_partial_line, write_atomic
from evonas.evolve.search import Search
from evonas.fitness import Dataset, FoldError, check_folds, load_dataset, objective_name
from evonas.fitness.runtime import in_callers_process
from evonas.genome import SearchSpace, decode


def load_data(cfg: DataConfig) -> Dataset:
    """The dataset a configuration names (built-in name or file path)."""
    return load_dataset(
        cfg.dataset,
        cfg.target,
        task=cfg.task,
        id_columns=cfg.id_columns,
        split=cfg.split,
        keep_columns=cfg.keep_columns,
        numeric_transform=cfg.numeric_transform,
        target_transform=cfg.target_transform,
        images=cfg.images,
    )


def describe_data(data: Dataset) -> dict[str, Any]:
    """What ``data.json`` records: which data, which task, the split and the leakage audit."""
    return {
        "name": data.name,
        "task": data.task,
        "target": data.target,
        "n_features": data.n_features,
        **({"image_shape": list(data.image_shape)} if data.image_shape else {}),
        "target_transform": data.target_transform,
        "rows": {"train": len(data.x_train), "val": len(data.x_val), "test": len(data.x_test)},
        "fingerprint": data.fingerprint,
        "audit": data.audit,
    }


def smallest_network_params(space: SearchSpace, data: Dataset) -> int:
    """Parameters of the smallest network ``space`` allows on ``data``.

    That network is the genome of the lowest bounds (``space.layout.low``): 1 level
    of 1 unit of the smallest neuron choice, no batch normalisation, no extra edge;
    on image data 1 conv level of the fewest filters and the smallest kernel, with
    whichever pooling and readout make it smallest.
    """
    layout = space.layout
    low = layout.low.copy()
    genomes = [low]
    if layout.max_conv_levels:
        genomes = []
        for readout in range(len(space.readouts)):
            for pooling in range(len(space.poolings)):
                genes = low.copy()
                genes[layout.readout], genes[layout.pooling.start] = readout, pooling
                genomes.append(genes)
    return min(data.n_params(decode(space, genes)) for genes in genomes)


def check_space_fits(space: SearchSpace, data: Dataset) -> None:
    """Refuse a space whose smallest network is already over ``space.max_params`` (every candidate
    would be rejected): a ``ConfigError`` naming both counts and the fix, before anything is written."""
    smallest = smallest_network_params(space, data)
    if smallest <= space.max_params:
        return
    width = space.neuron_choices[0]
    fix = f"raise space.max_params to at least {smallest:,}"
    if width > 1:
        fix += " or give space.neuron_choices a smaller width"
    inputs = f"{data.n_features} features in"
    if data.image_shape and space.conv_levels:
        shape = "x".join(map(str, data.image_shape))
        inputs = f"{shape} images through 1 conv level of {space.filter_choices[0]} filters"
    raise ConfigError(
        f"space.max_params = {space.max_params:,} is below the smallest network of the space on "
        f"{data.name} (1 level of 1 unit of {width} neurons, {inputs}, "
        f"{data.n_outputs} outputs: {smallest:,} parameters); {fix}"
    )


def check_engine(search: SearchConfig) -> None:
    """Reach the Dask scheduler, if the run uses one, before anything is written.

    An unreachable scheduler (or workers that cannot run evonas) raises a
    ``ConfigError`` naming the address, after at most ``dask_engine.CONNECT_TIMEOUT_S``.
    """
    if search.engine == "dask":
        make_engine(search).close()


def default_out(cfg: RunConfig, root: str | Path = "runs") -> Path:
    """``runs/<dataset>-<timestamp>``, made unique if needed."""
    stem = Path(cfg.data.dataset).stem or "run"
    base = Path(root) / f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def run_search(
    config: RunConfig,
    out: str | Path | None = None,
    *,
    data: Dataset | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    started: float | None = None,
) -> RunResult:
    """Run a whole search and measure the final best once on the test split.

    Args:
        config: the run configuration (``RunConfig()`` is the Ames demo).
        out: the new run directory (default ``runs/<dataset>-<timestamp>``); it must
            not exist or be empty.
        data: an already loaded dataset (by default the one ``config.data`` names).
        progress: show progress bars on stderr.
        log: receives one summary line per generation (and the line saying the time budget
            stopped the search, if ``config.search.time_budget`` did).
        started: when the command began (``time.perf_counter()``; default: this call): the time
            budget counts from there, data loading included.
    """
    started = time.perf_counter() if started is None else started
    data = data if data is not None else load_data(config.data)
    config = for_dataset(config, data)
    budget = config.search.time_budget
    budget = None if budget is None else parse_duration(budget)
    check_space_fits(config.space, data)
    try:
        check_folds(data, config.search.folds)
    except FoldError as exc:
        raise ConfigError(str(exc)) from None
    check_engine(config.search)
    run = RunDir.create(out if out is not None else default_out(config), config)
    with run.lock(), in_callers_process(), quiet_worker_restarts():  # a notebook's settings come back after
        run.write_json(DATA, describe_data(data))
        run.write_json(ENCODER, data.encoder.to_dict())
        search = Search(run, config, data, progress=progress, log=log)
        try:
            limit = config.search.generation_limit(budget is not None)
            search.run_generations(limit, budget, started=started)
        finally:
            search.engine.close()  # a Dask cluster's workers drop the run's data now, not at exit
        search.score_best_on_test()
    return RunResult(run.path)


def resume_search(
    path: str | Path,
    *,
    generations: int | None = None,
    workers: int | None = None,
    engine: str | None = None,
    scheduler: str | None = None,
    time_budget: str | float | None = None,
    data: Dataset | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    started: float | None = None,
) -> RunResult:
    """Continue a run from its checkpoint, reusing every evaluation in its journal.

    A run stopped before its first generation finished (no checkpoint yet)
    starts again from generation 0, still reusing the evaluations it finished.

    The result is the same as that of an uninterrupted run with the same seed.
    A larger ``generations`` extends a finished run (and is saved in ``config.toml``);
    ``workers`` changes only how many trainings run at once; ``engine`` and
    ``scheduler`` (e.g. ``engine="dask", scheduler="tcp://host:8786"``) change only
    where they run, for this resume (``config.toml`` keeps the run's own).
    ``time_budget`` (``"10m"`` or seconds) bounds this resume, counted from its own
    start (``started``, a ``time.perf_counter()``: the command's; default: this call);
    without it the resume runs up to ``search.generations`` (5 when unset) whatever
    budget the run was started with (a budget belongs to the command given it).
    """
    started = time.perf_counter() if started is None else started
    budget = None if time_budget is None else parse_duration(time_budget)
    run = RunDir.open(path)
    where = {"engine": engine, "scheduler": scheduler}
    check_engine(run.config().with_overrides(search=where).search)  # before anything is written
    with run.lock(), in_callers_process(), quiet_worker_restarts():
        config = run.config()
        checkpoint = run.checkpoint()
        drop_partial_line(run.evaluations_path)
        overrides = {"generations": generations, "workers": workers}
        if any(v is not None for v in overrides.values()):
            config = config.with_overrides(search=overrides)
        data = data if data is not None else load_data(config.data)
        search = Search(run, config.with_overrides(search=where), data, progress=progress, log=log)
        if checkpoint is not None:
            search.restore(checkpoint)
        else:  # stopped before generation 0 finished: start over, reusing the journal
            run.rewrite_individuals([])
            run.write_json(DATA, describe_data(data))
        if run.read_json(ENCODER) is None:  # a run started by an evonas that did not save it
            run.write_json(ENCODER, data.encoder.to_dict())
        if generations is not None:
            write_atomic(run.path / CONFIG, config.dumps())
        try:
            limit = config.search.generation_limit(budget is not None)
            search.run_generations(limit, budget, started=started)
        finally:
            search.engine.close()
        search.score_best_on_test()
    return RunResult(run.path)


class RunResult:
    """Read-only view of a run directory as pandas tables."""

    def __init__(self, path: str | Path) -> None:
        self.run = RunDir.open(path)
        self.path = self.run.path
        self.config = self.run.config()
        info = self.run.read_json(DATA) or {}
        self.task: str = info.get("task", "regression")

    def individuals(self) -> pd.DataFrame:
        """Every individual (one row per individual and generation)."""
        return pd.DataFrame(self.run.individuals())

    def evaluations(self) -> pd.DataFrame:
        """Every training that ran (the journal)."""
        return pd.DataFrame(self.run.evaluations())

    def by_generation(self) -> pd.DataFrame:
        """Best and median objective, trained/cached/failed counts, unique keys per generation.

        The statistics of :func:`evolve.logbook.generation_stats`, the same the search prints.
        """
        return by_generation(self.run.individuals())

    def best(self, k: int = 5) -> pd.DataFrame:
        """The ``k`` best distinct architectures, best first, described in one line each."""
        ind = self.individuals()
        if ind.empty:
            return pd.DataFrame()
        ok = ind[ind["status"] == "ok"].sort_values(["objective", "id"])
        first = ok.drop_duplicates("key").head(k)
        name = objective_name(self.task)
        rows = []
        for r in first.itertuples():
            arch = decode(self.config.space, r.genes)
            rows.append(
                {
                    "id": r.id,
                    "generation": r.generation,
                    "operator": r.operator,
                    name: r.objective,
                    "params": r.params,
                    "architecture": arch.describe(),
                    "key": r.key,
                }
            )
        return pd.DataFrame(rows)

    def no_success(self) -> str | None:
        """When generations finished and no candidate trained successfully: ``"most often: REASON,
        N of M candidates"`` (see :func:`evolve.logbook.failure_reasons`); None otherwise."""
        return no_success_reason(self.run.individuals())

    def test_score(self) -> dict[str, Any] | None:
        """The held-out test score of the final best, if the run measured it."""
        return self.run.read_json(TEST)


def format_best(table: pd.DataFrame) -> str:
    """The best-genomes table as aligned text, the architecture in full as the last column."""
    if table.empty:
        return "(no successful evaluation)"
    metric = next(c for c in ("val_rmse", "val_loss") if c in table)
    label = objective_label("regression" if metric == "val_rmse" else "classification")
    lines = [f"{'#':>3} {'id':>5} {'gen':>4}  {'operator':<19}{label:>10} {'params':>10}  architecture"]
    for rank, r in enumerate(table.itertuples(), start=1):
        lines.append(
            f"{rank:>3} {r.id:>5} {r.generation:>4}  {r.operator:<19}{format_number(getattr(r, metric)):>10} "
            f"{int(r.params):>10,}  {r.architecture}"
        )
    return "\n".join(lines)
