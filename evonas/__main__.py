"""``python -m evonas``: the ``evonas`` command."""

from evonas.evolve.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
