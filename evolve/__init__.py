"""The search: the genetic loop (ask/tell), the runner, engines, run directories, the ``evonas`` command.

Installed as ``evonas.evolve``; the public API is ``evonas`` itself (``from evonas import run_search``).
"""
