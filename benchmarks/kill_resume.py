"""SIGKILL a search at random moments, resume it, and compare with an uninterrupted run.

    .venv/bin/python -m benchmarks.kill_resume --trials 20 --seed 0

Each trial starts the same small search (digits, real training), kills the
whole process group with SIGKILL after a random delay drawn over the length of
an uninterrupted run, resumes it with ``evonas resume`` until it finishes, and
compares ``individuals.jsonl``, the final population and the best model's
record with those of the uninterrupted run. It also checks that no evaluation
finished before the kill was trained again (no key twice in the journal).
Prints one line per trial and ``N/N identical`` at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SEARCH = ["--dataset", "digits", "--population", "6", "--generations", "2", "--max-epochs", "3"]
SEARCH += ["--patience", "1", "--seed", "11", "--workers", "2", "--quiet"]


def evonas(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evonas", *args], capture_output=True, text=True, **kw)


def outcome(run: Path) -> tuple[str, list, dict]:
    cp = json.loads((run / "checkpoint.json").read_text())
    best = json.loads((run / "best/model.json").read_text())
    return (run / "individuals.jsonl").read_text(), cp["loop"]["pool"], best


def journal_keys(run: Path) -> list[str]:
    path = run / "evaluations.jsonl"
    if not path.exists():
        return []
    keys = []
    for line in path.read_text().splitlines():
        try:
            keys.append(json.loads(line)["key"])
        except json.JSONDecodeError:
            pass  # a line cut by the kill is ignored by evonas too
    return keys


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    root = Path(tempfile.mkdtemp(prefix="evonas-kill-"))
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    start = time.perf_counter()
    ref = evonas("run", *SEARCH, "--out", str(root / "reference"))
    if ref.returncode != 0:
        print(ref.stderr)
        return 1
    length = time.perf_counter() - start
    expected = outcome(root / "reference")
    print(f"uninterrupted run: {length:.1f}s, {len(journal_keys(root / 'reference'))} trainings")

    identical = 0
    for trial in range(1, args.trials + 1):
        run = root / f"trial{trial}"
        delay = float(rng.uniform(0.5, 0.95 * length))
        proc = subprocess.Popen(
            [sys.executable, "-m", "evonas", "run", *SEARCH, "--out", str(run)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        before = journal_keys(run)
        resumed = ""
        if killed and not (run / "config.toml").exists():
            # killed before the run directory was written: nothing to resume, the user runs it again
            res = evonas("run", *SEARCH, "--out", str(run))
            ok = res.returncode == 0
            resumed = "nothing written, run again" if ok else f"run failed: {res.stderr.strip()}"
        elif killed:
            res = evonas("resume", str(run))
            resumed = "resumed" if res.returncode == 0 else f"resume failed: {res.stderr.strip()}"
        after = journal_keys(run)
        problems = []
        try:
            if outcome(run) != expected:
                problems.append("different result")
        except (OSError, json.JSONDecodeError) as exc:
            problems.append(f"unreadable result ({exc})")
        if len(after) != len(set(after)):
            problems.append("an evaluation was trained twice")
        if after[: len(before)] != before:
            problems.append("the journal was rewritten")
        identical += not problems
        what = f"killed at {delay:5.1f}s with {len(before)} evaluations done" if killed else "finished before"
        verdict = "identical" if not problems else ", ".join(problems)
        print(f"trial {trial:>2}: {what}; {resumed or 'not resumed'} -> {verdict}")
        shutil.rmtree(run, ignore_errors=True)
    print(f"{identical}/{args.trials} identical")
    shutil.rmtree(root, ignore_errors=True)
    return 0 if identical == args.trials else 1


if __name__ == "__main__":
    sys.exit(main())
