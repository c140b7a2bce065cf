"""Selection strategies, a registry of small modules: which parents breed, which individuals stay.

``search.selection`` names one of :data:`STRATEGIES`. Every strategy module has
the same five names, and one conformance suite (``tests/evolve/test_selection.py``)
runs over the registry:

- ``NAME``: its key in the registry;
- ``ELITES``: True when each generation carries the loop's best-judged
  ``search.elites`` unchanged (copies, not trained again);
- ``MULTI_OBJECTIVE``: True when it needs two objectives (``search.objectives``);
- ``select_parents(pool, k, rng, settings)``: ``k`` parents from the pool, drawn
  with the explicit ``numpy.random.Generator`` only;
- ``select_pool(pool, generation, settings)``: the pool the next generation's
  parents come from, given the last pool and the generation just evaluated.

Every generation after the first breeds ``search.population - search.elites``
children, whatever the strategy (tournament: more while fewer than ``elites``
networks succeeded), so strategies compared at equal generations
are compared at about equal trainings. The pool is plain data in ``checkpoint.json``
(the loop state's ``pool``), so a resumed run selects as an uninterrupted one.

Example:
    >>> sorted(STRATEGIES)
    ['aging', 'nsga2', 'tournament']
"""

from __future__ import annotations

from types import ModuleType

from evonas.evolve.selection import aging, nsga2, tournament
from evonas.evolve.selection.settings import SelectionSettings

STRATEGIES: dict[str, ModuleType] = {m.NAME: m for m in (tournament, aging, nsga2)}


def default_selection(objectives: tuple[str, ...]) -> str:
    """``nsga2`` for two objectives, ``tournament`` for one."""
    return "nsga2" if len(objectives) > 1 else "tournament"


__all__ = ["STRATEGIES", "SelectionSettings", "default_selection"]
