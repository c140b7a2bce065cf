"""``import evonas``: one top-level package, its public API loaded on first use, ``python -m evonas``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import evonas

ROOT = Path(__file__).resolve().parents[1]


def test_every_public_name_resolves_to_the_object_of_its_module():
    from evonas.evolve.api import run_search
    from evonas.evolve.loop import GeneticLoop
    from evonas.genome.decode import decode

    assert evonas.run_search is run_search and evonas.GeneticLoop is GeneticLoop and evonas.decode is decode
    for name in evonas.__all__:
        assert getattr(evonas, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        evonas.nothing  # noqa: B018


def test_the_package_installs_one_top_level_name_and_every_sub_package():
    """pyproject.toml's packages: evonas and its sub-packages, each in a folder (setuptools' package-dir)."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages, mapped = tool["packages"], tool["package-dir"]
    assert {p.split(".")[0] for p in packages} == {"evonas"}

    def folder(package: str) -> Path:
        head = max((m for m in mapped if package == m or package.startswith(m + ".")), key=len)
        return ROOT / mapped[head] / package.removeprefix(head).replace(".", "/").lstrip("/")

    assert all((folder(p) / "__init__.py").is_file() for p in packages)
    on_disk = {
        "evonas." + ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("genome", "fitness", "evolve")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk <= set(packages), on_disk - set(packages)


def test_python_dash_m_evonas_is_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "evonas", "--help"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.startswith("usage: evonas") and "lineage" in out


def test_importing_evonas_loads_neither_tensorflow_nor_the_runner():
    code = (
        "import sys, evonas; evonas.GeneticLoop; "
        "heavy = ('tensorflow', 'keras', 'evonas.evolve.search', 'evonas.fitness'); "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
