"""The search: DEAP loop, engines, run directories, the ``evonas`` command line."""

from evolve.api import RunResult, load_data, run_search
from evolve.config import ConfigError, DataConfig, RunConfig, SearchConfig
from evolve.lineage import Lineage, ancestry, genealogy, genealogy_edges
from evolve.report import write_report
from evolve.rundir import RunDir, RunDirError
from evolve.search import Search

__all__ = [
    "ConfigError",
    "DataConfig",
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
    "run_search",
    "write_report",
]
