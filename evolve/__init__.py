"""The search: DEAP loop, engines, run directories, the ``evonas`` command line."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# Everything is loaded on first use: the loop (evolve.loop) imports neither TensorFlow nor the run
# directory, so a user driving GeneticLoop with a training of their own pays for neither; lineage and
# report pull in networkx and matplotlib, the estimators scikit-learn's machinery, the predictor Keras.
_LAZY = {
    "run_search": "evolve.api",
    "resume_search": "evolve.api",
    "load_data": "evolve.api",
    "RunResult": "evolve.api",
    "ConfigError": "evolve.config",
    "DataConfig": "evolve.config",
    "RunConfig": "evolve.config",
    "SearchConfig": "evolve.config",
    "RunDir": "evolve.rundir",
    "RunDirError": "evolve.rundir",
    "Search": "evolve.search",
    "GeneticLoop": "evolve.loop",
    "Candidate": "evolve.loop",
    "Judged": "evolve.loop",
    "Lineage": "evolve.lineage",
    "ancestry": "evolve.lineage",
    "genealogy": "evolve.lineage",
    "genealogy_edges": "evolve.lineage",
    "write_report": "evolve.report",
    "load_predictor": "evolve.predict",
    "Predictor": "evolve.predict",
    "EvonasRegressor": "evolve.estimators",
    "EvonasClassifier": "evolve.estimators",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'evolve' has no attribute {name!r}")


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
    "ancestry",
    "genealogy",
    "genealogy_edges",
    "load_data",
    "load_predictor",
    "Predictor",
    "resume_search",
    "run_search",
    "write_report",
]
