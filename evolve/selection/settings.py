"""What a selection strategy is told about the run: sizes and objectives (plain, frozen)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SelectionSettings:
    """``population``: the pool size; ``tournament_size``: the sample of a tournament (aging: ``S``);
    ``elites``: ``search.elites``; ``objectives``: ``search.objectives`` (``val`` first)."""

    population: int
    tournament_size: int = 3
    elites: int = 2
    objectives: tuple[str, ...] = ("val",)


__all__ = ["SelectionSettings"]
