"""The run directory: plain files (TOML, JSON, JSON Lines), no pickle.

```
runs/NAME/
  config.toml         the full resolved configuration
  evaluations.jsonl   one line per finished evaluation (append-only journal)
  individuals.jsonl   one line per individual, written at the end of its generation
  checkpoint.json     the latest complete generation (written atomically)
  best/model.keras    the best model so far (best/model.json says which)
  best/refit.keras    with search.refit: the best retrained on train+val (best/refit.json)
  best/ensemble.json  with search.ensemble = K > 1: the K best distinct architectures (ids, keys,
                      objectives, refit records), best first
  best/ensemble/      member-<id>.keras (as the search trained it), refit-<id>.keras (search.refit)
  best/folds/         cross-validated (search.folds = K > 1): <key>-fold<r>.keras, the fold models the
                      search trained of the networks it would deliver (the refits average them)
  data.json           which data, task, split sizes and the leakage audit
  encoder.json        the encoding fitted on the train rows (fitness.encoder.Encoder.to_dict)
  test.json           the held-out test score of the final best (measured once)
  lock                present while a process works on the run (pid, host)
```

JSON Lines files are read with :func:`read_jsonl`, which ignores a half-written
last line (a crash during a write); ``pandas.read_json(path, lines=True)``
reads them directly too.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from evonas.evolve.config import ConfigError, RunConfig, legacy_genes

CONFIG = "config.toml"
EVALUATIONS = "evaluations.jsonl"
INDIVIDUALS = "individuals.jsonl"
CHECKPOINT = "checkpoint.json"
TEST = "test.json"
LOCK = "lock"
DATA = "data.json"
ENCODER = "encoder.json"
BEST = "best/model.json"
REFIT = "best/refit.json"
ENSEMBLE = "best/ensemble.json"


class RunDirError(ValueError):
    """A run directory that cannot be used as asked (one clear line)."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash leaves the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_line(row: dict[str, Any]) -> str:
    """One JSON Lines line (sorted keys, no NaN)."""
    return json.dumps(row, sort_keys=True, allow_nan=False) + "\n"


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows, one JSON object per line, and flush them to disk."""
    lines = "".join(dumps_line(r) for r in rows)
    if not lines:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(lines)
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Rows of a JSON Lines file; a half-written last line is skipped."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            if i >= len(lines) - 2:  # the last line, written when the process died
                return
            raise RunDirError(f"{path}: line {i + 1} is not valid JSON") from None


def _lock_holder(path: Path) -> dict[str, Any] | None:
    """Who holds the lock, or None when the lock is stale (its process is gone) or unreadable."""
    try:
        holder = json.loads(path.read_text())
        pid, host = int(holder["pid"]), str(holder["host"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host != socket.gethostname():
        return holder  # another machine: cannot check, assume alive
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return holder


def drop_partial_line(path: Path) -> None:
    """Cut a half-written last line (a crash during a write) so that appends start on a fresh line."""
    if not path.exists():
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def is_run_dir(path: Path) -> bool:
    return (path / CONFIG).is_file()


class RunDir:
    """Paths and plain-data I/O of one run directory."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @property
    def evaluations_path(self) -> Path:
        return self.path / EVALUATIONS

    @property
    def individuals_path(self) -> Path:
        return self.path / INDIVIDUALS

    @property
    def best_model_path(self) -> Path:
        return self.path / "best" / "model.keras"

    @property
    def refit_model_path(self) -> Path:
        return self.path / "best" / "refit.keras"

    @property
    def ensemble_dir(self) -> Path:
        """The ensemble members' models (``search.ensemble`` > 1)."""
        return self.path / "best" / "ensemble"

    def member_model_path(self, id: int) -> Path:
        """Ensemble member ``id`` as the search trained it."""
        return self.ensemble_dir / f"member-{id}.keras"

    def member_refit_path(self, id: int) -> Path:
        """Ensemble member ``id`` retrained on train+val rows (``search.refit``)."""
        return self.ensemble_dir / f"refit-{id}.keras"

    @property
    def folds_dir(self) -> Path:
        """The fold models kept for the delivered networks (``search.folds`` > 1)."""
        return self.path / "best" / "folds"

    def fold_model_path(self, key: str, fold: int) -> Path:
        """The model of network ``key`` trained on the other folds' rows, early-stopped on ``fold``."""
        return self.folds_dir / f"{key}-fold{fold}.keras"

    @property
    def models_dir(self) -> Path:
        """Scratch folder where workers save candidates that may become the best (or join the ensemble)."""
        return self.path / "models"

    @staticmethod
    def check_new(path: str | os.PathLike[str]) -> None:
        """Raise unless ``path`` can become a new run directory (absent, or an empty directory)."""
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise RunDirError(f"--out {p} exists and is not a directory; choose another --out")
        if p.is_dir() and any(p.iterdir()):
            if is_run_dir(p):
                raise RunDirError(f"{p} already holds an evonas run; choose another --out (or resume it)")
            raise RunDirError(f"{p} exists and is not an empty directory; choose another --out")

    @classmethod
    def create(cls, path: str | os.PathLike[str], config: RunConfig) -> RunDir:
        """Start a new run directory; refuse to reuse anything that exists and is not empty."""
        p = Path(path)
        cls.check_new(p)
        try:
            p.mkdir(parents=True, exist_ok=True)
            probe = p / ".write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise RunDirError(f"cannot write to output directory {p}: {exc.strerror or exc}") from None
        run = cls(p)
        write_atomic(p / CONFIG, config.dumps())
        return run

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> RunDir:
        p = Path(path)
        if not p.is_dir():
            raise RunDirError(f"run directory not found: {p}")
        if not is_run_dir(p):
            raise RunDirError(f"{p} is not an evonas run directory (no {CONFIG})")
        return cls(p)

    def config(self) -> RunConfig:
        """The run's ``config.toml``; data keys that an older evonas did not write keep that evonas'
        behaviour (:data:`evolve.config.LEGACY_DATA`), so an old run resumes on the same data."""
        try:
            return RunConfig.load_saved(self.path / CONFIG)
        except ConfigError as exc:
            raise RunDirError(f"{self.path / CONFIG}: {exc}") from None

    def evaluations(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.evaluations_path))

    def individuals(self) -> list[dict[str, Any]]:
        """``individuals.jsonl``; an older evonas' genomes get the later genes at 0 (``legacy_genes``)."""
        rows = list(read_jsonl(self.individuals_path))
        return self._current_genes(rows) if rows else rows

    def _current_genes(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        space = self.config().space
        for row in rows:
            if "genes" in row:
                row["genes"] = legacy_genes(row["genes"], space)
        return rows

    def append_evaluation(self, record: dict[str, Any]) -> None:
        append_jsonl(self.evaluations_path, [record])

    def append_individuals(self, rows: list[dict[str, Any]]) -> None:
        append_jsonl(self.individuals_path, rows)

    def rewrite_individuals(self, rows: list[dict[str, Any]]) -> None:
        """Replace ``individuals.jsonl`` atomically (used on resume to drop an unfinished generation)."""
        write_atomic(self.individuals_path, "".join(dumps_line(r) for r in rows))

    def checkpoint(self) -> dict[str, Any] | None:
        """The latest checkpoint (None when no generation has finished); a clear error when unreadable."""
        try:
            cp = self.read_json(CHECKPOINT)
        except RunDirError:
            raise RunDirError(
                f"{self.path / CHECKPOINT} is corrupt or truncated; the run cannot be resumed"
            ) from None
        if cp is not None and not isinstance(cp, dict):
            raise RunDirError(f"{self.path / CHECKPOINT} is corrupt (not a JSON object)")
        if cp is not None:
            loop = cp.get("loop") if isinstance(cp.get("loop"), dict) else {}
            rows = [cp.get("population"), cp.get("hall_of_fame"), loop.get("pool"), loop.get("individuals")]
            rows += [loop.get("queued"), list((loop.get("keys") or {}).values())]
            for named in rows:
                if isinstance(named, list):
                    self._current_genes([r for r in named if isinstance(r, dict)])
        return cp

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory for this process; a lock left by a dead process is taken over."""
        path = self.path / LOCK
        me = {"pid": os.getpid(), "host": socket.gethostname()}
        for _ in range(2):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                holder = _lock_holder(path)
                if holder is not None:
                    raise RunDirError(
                        f"{self.path} is in use by process {holder['pid']} on {holder['host']}; "
                        "wait for it to finish or stop it"
                    ) from None
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                json.dump(me, f)
            break
        try:
            yield
        finally:
            path.unlink(missing_ok=True)

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        write_atomic(self.path / name, json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")

    def read_json(self, name: str) -> dict[str, Any] | None:
        p = self.path / name
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise RunDirError(f"{p} is corrupt (not valid JSON)") from None
