"""evonas: genetic neural-architecture search over lattices of Dense units (DEAP + Keras).

The public API. The repository's folders are installed as three sub-packages, imports flowing
one way, ``evolve -> fitness -> genome``:

- ``evonas.genome``: the search space and the genome encoding (pure numpy);
- ``evonas.fitness``: data, Keras models, training and scoring of one genome;
- ``evonas.evolve``: the genetic loop, the runner, run directories, the ``evonas`` command.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any

# In a source checkout the sub-packages are the folders beside evonas/ (genome/, fitness/, evolve/), so
# a checkout on PYTHONPATH runs as itself (a benchmark's snapshot of a commit, say), whatever evonas
# is installed; installed from a wheel they are inside evonas/ and this adds nothing.
_CHECKOUT = Path(__file__).resolve().parents[1]
if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "genome" / "__init__.py").is_file():
    __path__.append(str(_CHECKOUT))  # noqa: F821  (the package's own __path__)

# Everything is loaded on first use: the loop (evonas.evolve.loop) imports neither TensorFlow nor the run
# directory, so a user driving GeneticLoop with a training of their own pays for neither; lineage and
# report pull in networkx and matplotlib, the estimators scikit-learn's machinery, the predictor Keras.
_LAZY = {
    "run_search": "evonas.evolve.api",
    "resume_search": "evonas.evolve.api",
    "load_data": "evonas.evolve.api",
    "RunResult": "evonas.evolve.api",
    "ConfigError": "evonas.evolve.config",
    "DataConfig": "evonas.evolve.config",
    "RunConfig": "evonas.evolve.config",
    "SearchConfig": "evonas.evolve.config",
    "RunDir": "evonas.evolve.rundir",
    "RunDirError": "evonas.evolve.rundir",
    "Search": "evonas.evolve.search",
    "GeneticLoop": "evonas.evolve.loop",
    "Candidate": "evonas.evolve.loop",
    "Judged": "evonas.evolve.loop",
    "Lineage": "evonas.evolve.lineage",
    "ancestry": "evonas.evolve.lineage",
    "genealogy": "evonas.evolve.lineage",
    "genealogy_edges": "evonas.evolve.lineage",
    "write_report": "evonas.evolve.report",
    "load_predictor": "evonas.evolve.predict",
    "Predictor": "evonas.evolve.predict",
    "EvonasRegressor": "evonas.evolve.estimators",
    "EvonasClassifier": "evonas.evolve.estimators",
    "SearchSpace": "evonas.genome.space",
    "decode": "evonas.genome.decode",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evonas' has no attribute {name!r}")


__all__ = [
    "ConfigError",
    "DataConfig",
    "Candidate",
    "EvonasClassifier",
    "GeneticLoop",
    "Judged",
    "EvonasRegressor",
    "Lineage",
    "RunConfig",
    "RunDir",
    "RunDirError",
    "RunResult",
    "Search",
    "SearchConfig",
    "SearchSpace",
    "ancestry",
    "decode",
    "genealogy",
    "genealogy_edges",
    "load_data",
    "load_predictor",
    "Predictor",
    "resume_search",
    "run_search",
    "write_report",
]
