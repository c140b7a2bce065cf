"""The run configuration: frozen dataclasses loaded from TOML, validated on load.

A ``RunConfig`` has four tables, each rejecting unknown keys by name:

```toml
[data]      # what to learn: dataset, target, task, id_columns, split, keep_columns
[search]    # the genetic loop: population, generations, seed, workers, ...
[training]  # how each candidate trains: max_epochs, patience, tf_threads
[space]     # the search space (genome.SearchSpace)
```

The resolved configuration is saved as ``config.toml`` in every run directory.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import tomli_w
import tomllib

from evonas.evolve.objectives import ObjectivesError, parse_objectives
from evonas.evolve.selection import STRATEGIES, default_selection
from evonas.fitness import LARGE_ROWS, Dataset, SettingsError, TrainSettings, fitted_rows
from evonas.fitness.transforms import NUMERIC_TRANSFORMS, TARGET_TRANSFORMS
from evonas.genome import SearchSpace, SpaceError


class ConfigError(ValueError):
    """Invalid configuration; the message is one clear line naming the key."""


def _check_keys(table: str, given: Mapping[str, Any], cls: type) -> None:
    known = {f.name for f in fields(cls)}
    for k in given:
        if k not in known:
            raise ConfigError(f"unknown key '{table}.{k}' (known: {', '.join(sorted(known))})")


def _int_at_least(table: str, name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"{table}.{name} must be an integer >= {low}, got {value!r}")


def _prob(table: str, name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{table}.{name} must be a number between 0 and 1, got {value!r}")


_DURATION = re.compile(r"(?:(\d+(?:\.\d*)?)h)?(?:(\d+(?:\.\d*)?)m)?(?:(\d+(?:\.\d*)?)s)?")


def parse_duration(value: Any, key: str = "search.time_budget") -> float:
    """Seconds of a duration: ``"90s"``, ``"10m"``, ``"1h30m"``, ``"2h"`` or a number of seconds (> 0).

    Example:
        >>> parse_duration("1h30m"), parse_duration("90s"), parse_duration(45)
        (5400.0, 90.0, 45.0)

    Raises:
        ConfigError: one line naming ``key`` when ``value`` is not a positive duration.
    """
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        match = _DURATION.fullmatch(text)
        if match and any(match.groups()):
            h, m, s = (float(g) if g else 0.0 for g in match.groups())
            seconds = 3600 * h + 60 * m + s
        else:
            try:
                seconds = float(text)
            except ValueError:
                seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(
            f"{key} must be a duration such as 90s, 10m, 1h30m or a number of seconds > 0, got {value!r}"
        )
    return seconds


@dataclass(frozen=True)
class DataConfig:
    """Which data to learn from, how to split it, and the run-level value transforms.

    ``numeric_transform`` (``"standard"``, ``"robust"``, ``"quantile"``) and
    ``target_transform`` (``"auto"``, ``"none"``, ``"log"``; regression only) are
    fitted on the train rows (:mod:`fitness.transforms`). ``"auto"`` is the default:
    on Ames it chose log, which lowered the test RMSE of the best network from
    27,262 to 21,361 (population 8, 2 generations, seed 0; docs/performance.md).
    ``images``: read the data as images and search conv levels ahead of the
    lattice (:mod:`fitness.images`). Unset, an ``.npz`` file or a folder of
    class folders is images and everything else a table; ``true`` reads
    ``mnist5k`` and ``digits`` as images too; ``false`` reads any source as a table.
    """

    dataset: str = "ames"
    target: str | None = None
    task: str = "auto"
    id_columns: tuple[str, ...] = ()
    split: tuple[float, float, float] = (0.70, 0.15, 0.15)
    keep_columns: tuple[str, ...] = ()
    numeric_transform: str = "standard"
    target_transform: str = "auto"
    images: bool | None = None

    def __post_init__(self) -> None:
        if self.images is not None and not isinstance(self.images, bool):
            raise ConfigError(f"data.images must be true or false, got {self.images!r}")
        object.__setattr__(self, "id_columns", tuple(self.id_columns))
        object.__setattr__(self, "keep_columns", tuple(self.keep_columns))
        object.__setattr__(self, "split", tuple(self.split))
        if not isinstance(self.dataset, str) or not self.dataset:
            raise ConfigError("data.dataset must be a built-in name or a path")
        if self.task not in ("auto", "regression", "classification"):
            raise ConfigError(f"data.task must be auto, regression or classification, got {self.task!r}")
        transforms = (("numeric_transform", NUMERIC_TRANSFORMS), ("target_transform", TARGET_TRANSFORMS))
        for key, known in transforms:
            value = getattr(self, key)
            if value not in known:
                raise ConfigError(f"data.{key} must be {', '.join(known)}, got {value!r}")
        if len(self.split) != 3 or not all(
            isinstance(f, (int, float)) and not isinstance(f, bool) and f > 0 for f in self.split
        ):
            raise ConfigError(f"data.split must be three positive fractions, got {list(self.split)}")
        if not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            raise ConfigError(f"data.split fractions must sum to 1, got {sum(self.split):g}")


# what a run directory written before these data keys existed did (RunConfig.load_saved)
LEGACY_DATA = {"numeric_transform": "standard", "target_transform": "none"}
# the space keys of the genes added after the first runs were written (issue 18), at the one
# choice those runs had; their genes sit at the end of the genome, index 0 of each default tuple
LEGACY_SPACE = {
    "weight_decays": [0.0],
    "lr_schedules": ["constant"],
    "label_smoothings": [0.0],
    "embeddings": ["none"],
}

REFIT_KINDS = ("rows", "folds")  # search.refit, besides true and false
ENSEMBLE_WEIGHTS = ("greedy", "equal")  # search.ensemble_weights
# search.ensemble unset: DEFAULT_ENSEMBLE members once a search trains this many candidates, else 1
DEFAULT_GENERATIONS = 5  # search.generations when unset and no time budget bounds the search
DEFAULT_ENSEMBLE = 5
ENSEMBLE_FROM_CANDIDATES = 50


def default_ensemble(population: int, generations: int | None) -> int:
    """``search.ensemble`` when unset: :data:`DEFAULT_ENSEMBLE` for a search of at least
    :data:`ENSEMBLE_FROM_CANDIDATES` candidates (``population x (generations + 1)``), else 1.

    Example:
        >>> default_ensemble(10, 5), default_ensemble(4, 2)
        (5, 1)
    """
    generations = DEFAULT_GENERATIONS if generations is None else generations
    return DEFAULT_ENSEMBLE if population * (generations + 1) >= ENSEMBLE_FROM_CANDIDATES else 1


ENGINES = ("loky", "serial", "dask")
CROSSOVERS = ("unit_blocks", "two_point")


@dataclass(frozen=True)
class SearchConfig:
    """The genetic loop (DEAP eaSimple-style, with elitism: the best judged networks carried over).

    ``generations`` counts the generations bred after the initial population
    (generation 0), as in DEAP's ``eaSimple``: a run evaluates
    ``generations + 1`` populations. Unset, the search runs until its time budget
    stops it, or :data:`DEFAULT_GENERATIONS` (5) without one
    (:meth:`generation_limit`). Without ``workers``, one worker per CPU core.
    ``engine``: ``loky`` (worker processes on this machine, the default), ``serial``
    (one candidate at a time in the search process: nothing to start, for tiny
    searches and debugging; the same results) or ``dask`` (with ``scheduler``;
    :mod:`evolve.engine`).
    ``refit``: after the search, train the selected architecture again on the
    train and validation rows, for the epochs early stopping chose, and score
    both models on the test split (``predict`` then uses the refitted one). On by
    default: it lowered the test error in 9 of 12 searches on four tables
    (``benchmarks/refit.py``, ``docs/performance.md``) for one more training. A
    refit that fits the train+val rows worse than the selected model is rejected
    and the selected model kept (:func:`fitness.refit_genome`, the refit guard).
    Cross-validated (``folds`` > 1), ``true`` delivers each selected network's K fold
    models averaged instead (``"folds"``: each trained on the other folds' rows and
    early-stopped on its own, the folds the race did not train trained at the end;
    :func:`fitness.bag_fold_models`); ``"rows"`` retrains it on all pooled rows as
    without folds; ``false`` delivers the model of fold 0 as the search trained it.
    ``time_budget``: a wall-clock limit on the generations (``"90s"``, ``"10m"``,
    ``"1h30m"`` or seconds; see :func:`parse_duration`); the search stops at the
    generation boundary where the next generation would not fit
    (:meth:`evolve.search.Search.next_generation_seconds`); ``generations``, when
    set, stays an upper bound (the first reached stops). It belongs to the command
    given it: ``evonas resume`` uses its own ``--time-budget`` only. ``ensemble``: the
    K best distinct architectures predict together (averaged predictions or class probabilities); 1 is the
    single best network. Unset, :meth:`RunConfig.for_data` makes it
    :data:`DEFAULT_ENSEMBLE` (5) for a search that trains at least
    :data:`ENSEMBLE_FROM_CANDIDATES` (50) candidates (``population x
    (generations + 1)``, as the demo's 60), else 1: the 5-network ensemble had a
    lower test error than the single best on the public suite
    (``docs/benchmarks.md``), and a small search has too few good networks to
    average. ``ensemble_weights``: ``"greedy"`` weighs the members after the search by
    greedy selection with replacement on held-out predictions (Caruana et al. 2004: the
    out-of-fold predictions when cross-validated, else the validation rows';
    :func:`evolve.ensemble.weigh_members`), so a member that does not help gets weight 0;
    ``"equal"``: the plain mean. Unset (:attr:`weights_rule`): greedy when cross-validated (on
    out-of-fold predictions), equal on the single split (where greedy selection on the
    validation rows that also selected the members did no better: ``docs/benchmarks.md``).
    ``multi_fidelity``: successive halving
    inside each generation (:mod:`evolve.fidelity`): every new candidate trains a
    fifth of the epoch cap, the best quarter of those still improving train in full;
    on a table whose trainings fit 10,000 rows or more, the short training is a row
    sample instead (a quarter of the rows). ``"auto"``: the row sample on such a table,
    nothing on a smaller one.
    ``objectives``: ``["val"]`` (the default), ``["val", "params"]`` or
    ``["val", "latency"]`` (also written ``"val,params"``; :mod:`evolve.objectives`);
    with two, the run keeps its Pareto front in ``front.csv``. ``selection``: a
    strategy of :data:`evolve.selection.STRATEGIES` (``tournament``, ``aging``,
    ``nsga2``); unset, ``nsga2`` for two objectives and ``tournament`` for one.
    ``textbook``: generation 0 starts with the textbook network of the space
    (:func:`genome.textbook_genome`) and ``population - 1`` random genomes; unset,
    on for image data and for a table whose trainings fit :data:`fitness.LARGE_ROWS` rows or
    more (a random generation 0 of large networks can take most of a short budget there),
    off for a smaller table (:meth:`RunConfig.for_data`).
    ``replicates``: the most evaluations of one architecture (a new seed each,
    :func:`fitness.evaluation_seed`); with more than 1 the best are raced
    (:mod:`evolve.loop`): the incumbent gets one more replicate per generation and a
    challenger as good is evaluated again, and a network is judged by the mean of its
    replicates, not by one lucky training. 1 (the default) trains each network once.
    ``folds``: K > 1 pools the train and validation rows into K folds by row hash
    (:mod:`fitness.folds`) and makes replicate r of a network its training on fold r,
    early-stopped on that fold's rows: the race runs over folds (up to K per network)
    and a network is judged by its mean fold score. 1 (the default): the one split.
    """

    population: int = 10
    generations: int | None = None
    seed: int = 0
    workers: int | None = None
    engine: str = "loky"
    scheduler: str | None = None
    tournament_size: int = 3
    elites: int = 2
    crossover: str = "unit_blocks"
    crossover_probability: float = 0.5
    mutation_probability: float = 0.3
    refit: bool | str = True
    time_budget: str | float | None = None
    ensemble: int | None = None
    ensemble_weights: str | None = None
    multi_fidelity: bool | str = False
    objectives: tuple[str, ...] = ("val",)
    selection: str | None = None
    textbook: bool | None = None
    replicates: int = 1
    folds: int = 1

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "objectives", parse_objectives(self.objectives))
        except ObjectivesError as exc:
            raise ConfigError(str(exc)) from None
        if self.selection is not None and self.selection not in STRATEGIES:
            raise ConfigError(
                f"search.selection must be one of {', '.join(STRATEGIES)}, got {self.selection!r}"
            )
        if STRATEGIES[self.strategy].MULTI_OBJECTIVE and len(self.objectives) < 2:
            raise ConfigError(
                f"search.selection = {self.strategy!r} needs two objectives "
                '(search.objectives = "val,params" or "val,latency")'
            )
        if self.time_budget is not None:
            parse_duration(self.time_budget)
        if self.ensemble is not None:
            _int_at_least("search", "ensemble", self.ensemble, 1)
        _int_at_least("search", "population", self.population, 2)
        if self.generations is not None:
            _int_at_least("search", "generations", self.generations, 1)
        _int_at_least("search", "seed", self.seed, 0)
        if self.workers is not None:
            _int_at_least("search", "workers", self.workers, 1)
        _int_at_least("search", "tournament_size", self.tournament_size, 1)
        _int_at_least("search", "replicates", self.replicates, 1)
        _int_at_least("search", "folds", self.folds, 1)
        if self.folds > 1 and self.replicates not in (1, self.folds):
            raise ConfigError(
                f"search.replicates = {self.replicates} with search.folds = {self.folds}: with folds, "
                "replicate r of a network is its training on fold r; leave search.replicates unset"
            )
        _int_at_least("search", "elites", self.elites, 0)
        if self.elites >= self.population:
            raise ConfigError(f"search.elites must be < population ({self.population}), got {self.elites}")
        if self.engine not in ENGINES:
            raise ConfigError(f"search.engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.crossover not in CROSSOVERS:
            raise ConfigError(
                f"search.crossover must be one of {', '.join(CROSSOVERS)}, got {self.crossover!r}"
            )
        _prob("search", "crossover_probability", self.crossover_probability)
        _prob("search", "mutation_probability", self.mutation_probability)
        if not isinstance(self.refit, bool) and self.refit not in REFIT_KINDS:
            raise ConfigError(f'search.refit must be true, false, "rows" or "folds", got {self.refit!r}')
        if self.refit == "folds" and self.folds < 2:
            raise ConfigError('search.refit = "folds" needs search.folds > 1 (the fold models to average)')
        if self.ensemble_weights is not None and self.ensemble_weights not in ENSEMBLE_WEIGHTS:
            choices = ", ".join(ENSEMBLE_WEIGHTS)
            got = self.ensemble_weights
            raise ConfigError(f"search.ensemble_weights must be one of {choices}, got {got!r}")
        if not isinstance(self.multi_fidelity, bool) and self.multi_fidelity != "auto":
            raise ConfigError(
                f'search.multi_fidelity must be true, false or "auto", got {self.multi_fidelity!r}'
            )
        if self.textbook is not None and not isinstance(self.textbook, bool):
            raise ConfigError(f"search.textbook must be true or false, got {self.textbook!r}")

    @property
    def strategy(self) -> str:
        """The selection strategy that runs: ``selection``, or the default for the objectives."""
        return self.selection or default_selection(self.objectives)

    def generation_limit(self, budgeted: bool) -> float:
        """The last generation to run: ``generations`` when set; unset, unbounded under a time budget
        (the budget stops the search) and :data:`DEFAULT_GENERATIONS` without one."""
        if self.generations is not None:
            return self.generations
        return math.inf if budgeted else DEFAULT_GENERATIONS

    def describe_generations(self, budgeted: bool) -> str:
        """``"5"``, or ``"until the time budget"`` for an unbounded search."""
        limit = self.generation_limit(budgeted)
        return "until the time budget" if math.isinf(limit) else str(limit)

    @property
    def weights_rule(self) -> str:
        """How the ensemble's members are weighed: ``ensemble_weights``, or unset ``"greedy"`` when
        cross-validated and ``"equal"`` on the single split."""
        return self.ensemble_weights or ("greedy" if self.folds > 1 else "equal")

    @property
    def refit_kind(self) -> str | None:
        """What is delivered for a selected network after the search: ``"rows"`` (retrained on the
        train and validation rows), ``"folds"`` (its fold models averaged), or None (the model the
        search trained). ``refit = true`` is ``"folds"`` when cross-validated, else ``"rows"``."""
        if self.refit is False:
            return None
        if self.refit is True:
            return "folds" if self.folds > 1 else "rows"
        return str(self.refit)

    @property
    def replicate_limit(self) -> int:
        """The most evaluations of one network: ``folds`` when cross-validated, else ``replicates``."""
        return self.folds if self.folds > 1 else self.replicates


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a run; saved as ``config.toml``."""

    data: DataConfig = field(default_factory=DataConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    training: TrainSettings = field(default_factory=TrainSettings)
    space: SearchSpace = field(default_factory=SearchSpace)

    def to_dict(self) -> dict[str, Any]:
        data = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.data).items()}
        search = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self.search).items()}
        for table in (data, search):
            for k in [k for k, v in table.items() if v is None]:
                del table[k]  # TOML has no null: absent means default
        return {
            "data": data,
            "search": search,
            "training": self.training.to_dict(),
            "space": self.space.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunConfig:
        tables = {"data", "search", "training", "space"}
        for k in d:
            if k not in tables:
                raise ConfigError(f"unknown table '[{k}]' (known: {', '.join(sorted(tables))})")
        try:
            data_d = dict(d.get("data", {}))
            search_d = dict(d.get("search", {}))
            _check_keys("data", data_d, DataConfig)
            _check_keys("search", search_d, SearchConfig)
            return cls(
                data=DataConfig(**data_d),
                search=SearchConfig(**search_d),
                training=TrainSettings.from_dict(d.get("training", {})),
                space=SearchSpace.from_dict(d.get("space", {})),
            )
        except (SettingsError, SpaceError) as exc:
            raise ConfigError(str(exc)) from None
        except TypeError as exc:  # e.g. a table given as a scalar
            raise ConfigError(f"malformed configuration: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> RunConfig:
        """Read a TOML file; errors name the file and the problem."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"configuration file not found: {p}")
        try:
            d = tomllib.loads(p.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"invalid TOML in {p}: {exc}") from None
        return cls.from_dict(d)

    @classmethod
    def load_saved(cls, path: str | Path) -> RunConfig:
        """A run directory's ``config.toml``: the data and space keys it lacks (it was written
        before they existed) take :data:`LEGACY_DATA` and :data:`LEGACY_SPACE`, the behaviour of
        that evonas, not today's defaults (its genomes are read with those genes at 0:
        :func:`legacy_genes`); without ``search.ensemble`` it predicts with its single best."""
        config = cls.load(path)
        saved = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        legacy = {k: v for k, v in LEGACY_DATA.items() if k not in saved.get("data", {})}
        if legacy:
            config = replace(config, data=replace(config.data, **legacy))
        space = {k: v for k, v in LEGACY_SPACE.items() if k not in saved.get("space", {})}
        if space:
            config = replace(config, space=SearchSpace.from_dict({**config.space.to_dict(), **space}))
        if "smearing" not in saved.get("training", {}):  # written before training.smearing existed
            config = replace(config, training=replace(config.training, smearing=False))
        if "batch_scale" not in saved.get("space", {}):  # written before the batch sizes scaled with rows
            config = replace(config, space=replace(config.space, batch_scale=1))
        if config.search.ensemble is None:  # written before search.ensemble existed: the single best
            config = replace(config, search=replace(config.search, ensemble=1))
        return config

    def for_data(self, images: bool, rows: int | None = None) -> RunConfig:
        """The configuration a run starts with on its data: ``space.max_conv_levels``
        (:meth:`genome.SearchSpace.for_images`), ``space.batch_scale`` from the ``rows`` one
        training fits (:meth:`genome.SearchSpace.for_rows`) and ``training.smearing``
        (:meth:`fitness.TrainSettings.for_rows`; both left as they are without ``rows``),
        ``search.textbook`` (from ``images`` and ``rows``) and ``search.ensemble``
        (:func:`default_ensemble`) set.

        Raises:
            ConfigError: conv levels asked for on a table.
        """
        try:
            space = self.space.for_images(images)
        except SpaceError as exc:
            raise ConfigError(str(exc)) from None
        training = self.training
        if rows is not None:
            space, training = space.for_rows(rows), training.for_rows(rows)
        search = self.search
        if search.textbook is None:
            search = replace(search, textbook=images or (rows is not None and rows >= LARGE_ROWS))
        if search.ensemble is None:
            search = replace(search, ensemble=default_ensemble(search.population, search.generations))
        if space is self.space and search is self.search and training is self.training:
            return self
        return replace(self, space=space, search=search, training=training)

    def dumps(self) -> str:
        return tomli_w.dumps(self.to_dict())

    def with_overrides(self, **tables: Mapping[str, Any]) -> RunConfig:
        """A copy with some keys replaced, e.g. ``with_overrides(search={"seed": 3})``."""
        d = self.to_dict()
        for table, values in tables.items():
            d.setdefault(table, {}).update({k: v for k, v in values.items() if v is not None})
        return RunConfig.from_dict(d)


def for_dataset(config: RunConfig, data: Dataset) -> RunConfig:
    """``config`` resolved on ``data`` (:meth:`RunConfig.for_data`): images or a table, and the rows
    one training fits (:func:`fitness.fitted_rows`, with ``search.folds``)."""
    return config.for_data(images=data.image_shape is not None, rows=fitted_rows(data, config.search.folds))


def legacy_genes(genes: Any, space: SearchSpace) -> Any:
    """A genome written before the later genes existed, with them appended at 0 (else ``genes`` as is).

    Only a genome exactly :data:`LEGACY_SPACE`'s genes short is extended: at their
    first choice they decode to the network it was (the same key).
    """
    if isinstance(genes, list) and len(genes) == space.layout.size - len(LEGACY_SPACE):
        return genes + [0] * len(LEGACY_SPACE)
    return genes


def resolve_workers(search: SearchConfig) -> int:
    """Number of local workers: the configured count, or one per core."""
    return search.workers or max(1, os.cpu_count() or 1)


__all__ = [
    "ConfigError",
    "DataConfig",
    "RunConfig",
    "SearchConfig",
    "default_ensemble",
    "for_dataset",
    "legacy_genes",
    "parse_duration",
    "resolve_workers",
]
