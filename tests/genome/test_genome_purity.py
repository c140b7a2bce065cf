"""evonas.genome is pure numpy + stdlib: it never imports TensorFlow, pandas or its siblings."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import evonas.genome

FORBIDDEN = ("tensorflow", "keras", "pandas", "evonas.fitness", "evonas.evolve", "deap", "sklearn")
PACKAGE = Path(evonas.genome.__file__).parent


def test_no_forbidden_import_statements() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                banned = any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
                assert not banned, f"{path.name} imports {name}"


def test_importing_genome_loads_no_heavy_module() -> None:
    code = (
        "import sys, evonas.genome; "
        f"bad = [m for m in {FORBIDDEN!r} if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=PACKAGE.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api() -> None:
    for name in evonas.genome.__all__:
        assert hasattr(evonas.genome, name), name
