"""Per-candidate overhead of the dask engine against the local one, and proof that the data goes once.

    .venv/bin/python -m benchmarks.dask_overhead --dataset mnist5k --candidates 16 --epochs 2

Starts a Dask scheduler and two workers on 127.0.0.1 (``--nthreads 1``), and
evaluates the same random genomes through ``LocalEngine(2)`` and ``DaskEngine``:

- **engine overhead**: the genomes in a space with ``max_params = 1``, so each
  task returns at once (no training): the time per candidate is what the engine
  itself costs (send the task, schedule it, run it, bring the record back);
- **training**: the same genomes trained for real (``--epochs``); the records
  must be identical (timing and host fields aside);
- **data sent once**: the size of the dataset and of one task, the number of
  data-plugin setups per worker after every batch (1 = the data reached each
  worker once), and, for contrast, the same overhead batch with the dataset
  inside every task (what the plugin avoids).

Both engines are warmed up first (workers started, data sent, TensorFlow
imported); the cold start is printed separately. Prints the command and the figures.
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
from distributed import Client

from evonas.evolve.dask_engine import DaskEngine
from evonas.evolve.engine import LocalEngine
from evonas.evolve.worker import EvalTask, run_task
from evonas.fitness import TrainSettings, load_dataset
from evonas.genome import SearchSpace, random_genome

ROOT = Path(__file__).resolve().parents[1]

TIMING = ("seconds", "worker")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_cluster(logs: Path) -> tuple[str, list[subprocess.Popen]]:
    address = f"tcp://127.0.0.1:{free_port()}"
    py = [sys.executable, "-m"]
    commands = [
        [*py, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", address.split(":")[-1]]
    ]
    commands += [
        [*py, "distributed.cli.dask_worker", address, "--host", "127.0.0.1", "--nthreads", "1"]
        + ["--nworkers", "1", "--memory-limit", "0"]
        for _ in range(2)
    ]
    procs = []
    for i, cmd in enumerate(commands):
        with open(logs / f"{i}.log", "w") as log:
            procs.append(
                subprocess.Popen(
                    [*cmd, "--no-dashboard"],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    with Client(address, timeout=60, set_as_default=False) as client:
        client.wait_for_workers(2, timeout=120)
    return address, procs


def stop_cluster(procs: list[subprocess.Popen]) -> None:
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    for proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def run_batch(engine, tasks, space, data, settings, seed) -> tuple[float, dict[int, dict]]:
    start = time.perf_counter()
    records = dict(engine.evaluate(tasks, space, data, settings, seed))
    return time.perf_counter() - start, records


def median_batch(engine, tasks, space, data, settings, seed, repeats: int = 5) -> float:
    """Median time of a batch over a few repeats (the overhead batches take milliseconds: noisy)."""
    return statistics.median(run_batch(engine, tasks, space, data, settings, seed)[0] for _ in range(repeats))


def without_timing(records: dict[int, dict]) -> dict[int, dict]:
    return {i: {k: v for k, v in r.items() if k not in TIMING} for i, r in records.items()}


def per_candidate_ms(seconds: float, n: int) -> str:
    return f"{1e3 * seconds / n:8.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="mnist5k")
    parser.add_argument("--candidates", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2, help="training epochs (0: skip the training batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print("$ .venv/bin/python -m benchmarks.dask_overhead " + " ".join(sys.argv[1:]))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")

    data = load_dataset(args.dataset)
    space = SearchSpace(max_levels=2, max_units=3)
    settings = TrainSettings(max_epochs=args.epochs or 1, patience=1)
    rng = np.random.default_rng(args.seed)
    tasks = [EvalTask(i, random_genome(space, rng)) for i in range(args.candidates)]
    instant = replace(space, max_params=1)  # every candidate is rejected at once: no training
    n, mb = len(tasks), len(pickle.dumps(data, protocol=5)) / 1e6
    task_kb = len(pickle.dumps((tasks[0], space, settings, args.seed), protocol=5)) / 1e3
    print(
        f"dataset {args.dataset}: {mb:.1f} MB pickled; one task (genome, space, settings): {task_kb:.1f} kB"
    )
    print(f"{n} candidates, 2 workers for each engine")

    local = LocalEngine(2)
    cold_local, _ = run_batch(local, tasks[:2], instant, data, settings, args.seed)
    warm_local = median_batch(local, tasks, instant, data, settings, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        address, procs = start_cluster(Path(tmp))
        try:
            dask = DaskEngine(address)
            cold_dask, _ = run_batch(dask, tasks[:2], instant, data, settings, args.seed)
            warm_dask = median_batch(dask, tasks, instant, data, settings, args.seed)
            setups_then = dask.setup_counts()
            start = time.perf_counter()  # contrast: the dataset inside every task
            with warnings.catch_warnings():  # "Sending large graph": the point of the contrast
                warnings.simplefilter("ignore", UserWarning)
                futures = [
                    dask.client.submit(run_task, t, instant, settings, args.seed, data=data, pure=False)
                    for t in tasks
                ]
                dask.client.gather(futures)
            del futures
            naive = time.perf_counter() - start

            print("\nengine overhead per candidate (no training; warm workers; median of 5 batches):")
            print(f"  local (loky)                  {per_candidate_ms(warm_local, n)}")
            print(f"  dask (data plugin)            {per_candidate_ms(warm_dask, n)}")
            print(f"  dask, the data in every task  {per_candidate_ms(naive, n)}   ({n} x {mb:.1f} MB sent)")
            print(
                f"  cold start (2 candidates, workers start or get the data, import TensorFlow): "
                f"local {cold_local:.1f} s, dask {cold_dask:.1f} s"
            )

            if args.epochs:
                times: dict[str, list[float]] = {"local": [], "dask": []}
                for _ in range(2):  # interleaved, best of two: the machine's load varies
                    for name, engine in (("local", local), ("dask", dask)):
                        seconds, records = run_batch(engine, tasks, space, data, settings, args.seed)
                        times[name].append(seconds)
                        if name == "local":
                            records_local = records
                        else:
                            records_dask = records
                train_local, train_dask = min(times["local"]), min(times["dask"])
                ok = sum(r["status"] == "ok" for r in records_local.values())
                print(
                    f"\ntraining per candidate ({args.epochs} epochs; {ok}/{n} trained; best of 2 batches):"
                )
                print(f"  local (loky)                  {per_candidate_ms(train_local, n)}")
                print(f"  dask (data plugin)            {per_candidate_ms(train_dask, n)}")
                print(f"  difference                    {per_candidate_ms(train_dask - train_local, n)}")
                same = without_timing(records_local) == without_timing(records_dask)
                print(f"  records identical to the local engine's (timing and host fields aside): {same}")

            setups = dask.setup_counts()
            through = 2 + 5 * n + (2 * n if args.epochs else 0)
            print(f"\ndata-plugin setups per worker after {through} candidates through the plugin:")
            for worker, counts in sorted(setups.items()):
                print(f"  {worker}: {sum(counts.values())} setup(s) of {len(counts)} dataset(s)")
            print(
                f"  (1 setup = the data reached that worker once; unchanged since the overhead batch: "
                f"{setups == setups_then})"
            )
            dask.close()
        finally:
            stop_cluster(procs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
