"""The search: DEAP loop, engines, run directories, the ``evonas`` command line."""

from evolve.api import RunResult, load_data, run_search
from evolve.config import ConfigError, DataConfig, RunConfig, SearchConfig
from evolve.rundir import RunDir, RunDirError
from evolve.search import Search

__all__ = [
    "ConfigError",
    "DataConfig",
    "RunConfig",
    "RunDir",
    "RunDirError",
    "RunResult",
    "Search",
    "SearchConfig",
    "load_data",
    "run_search",
]
