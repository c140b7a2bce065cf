"""GPU placement of local workers, checked without a GPU: a fake nvidia-smi and real worker processes."""

from __future__ import annotations

import os
import stat
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd
import pytest

from evonas.evolve.config import SearchConfig
from evonas.evolve.engine import LocalEngine, local_gpus, make_engine
from evonas.evolve.worker import EvalTask, claim_slot
from evonas.fitness import TrainSettings, load_dataset
from evonas.genome import SearchSpace, random_genome


@pytest.fixture
def fake_smi(tmp_path, monkeypatch):
    """An ``nvidia-smi`` on PATH that lists two GPUs; no CUDA_VISIBLE_DEVICES."""
    tool = tmp_path / "bin" / "nvidia-smi"
    tool.parent.mkdir()
    tool.write_text(
        "#!/bin/sh\n"
        'echo "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa)"\n'
        'echo "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb)"\n'
    )
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tool.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_gpus_come_from_cuda_visible_devices_first(monkeypatch, fake_smi):
    assert local_gpus() == ("0", "1")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert local_gpus() == ("3", "5")
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert local_gpus() == ()


def test_no_nvidia_smi_means_no_gpus(monkeypatch, tmp_path):
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert local_gpus() == ()


def test_default_workers_are_one_per_gpu(fake_smi):
    engine = make_engine(SearchConfig())
    assert (engine.workers, engine.gpus) == (2, ("0", "1"))
    assert make_engine(SearchConfig(workers=4)).workers == 4  # several per GPU when asked


def test_slots_are_claimed_once_each_across_processes(tmp_path):
    with ProcessPoolExecutor(4) as pool:
        slots = list(pool.map(claim_slot, [str(tmp_path)] * 12))
    assert sorted(slots) == list(range(12))


@pytest.mark.slow  # more than 2 s (tests/conftest.py FAST_LIMIT_S)
def test_each_worker_trains_on_its_own_gpu(fake_smi, monkeypatch):
    monkeypatch.setenv("EVONAS_FAULTS", "sleep=0.3")  # slow enough that both workers take candidates
    frame = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 3)), columns=list("abc"))
    frame["y"] = frame["a"] * 2 + frame["b"]
    data = load_dataset(frame, "y")
    space = SearchSpace(max_levels=1, max_units=1, neuron_choices=(4,))
    rng = np.random.default_rng(1)
    tasks = [EvalTask(i, random_genome(space, rng)) for i in range(6)]
    engine = LocalEngine(2, ("0", "1"))  # on this CPU machine TensorFlow then finds no GPU and uses the CPU
    records = [r for _, r in engine.evaluate(tasks, space, data, TrainSettings(max_epochs=1, patience=1), 0)]
    assert all(r["status"] == "ok" for r in records)
    by_worker = {r["worker"]: r["gpu"] for r in records}
    assert sorted(by_worker.values()) == ["0", "1"]  # two workers, one GPU each
