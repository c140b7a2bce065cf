"""The search: DEAP loop, engines, run directories, the ``evonas`` command line."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from evolve.api import RunResult, load_data, resume_search, run_search
from evolve.config import ConfigError, DataConfig, RunConfig, SearchConfig
from evolve.rundir import RunDir, RunDirError
from evolve.search import Search

# Lineage and report pull in networkx and matplotlib, the estimators scikit-learn's machinery,
# the predictor Keras: loaded on first use, so that `evonas run` and its input checks start fast.
_LAZY = {
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
    "EvonasClassifier",
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
