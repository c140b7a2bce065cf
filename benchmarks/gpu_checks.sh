#!/usr/bin/env bash
# GPU checks of evonas' trainers, in one short call (well under 10 minutes) on a machine with an NVIDIA GPU.
#
#   bash benchmarks/gpu_checks.sh            # from the repository root; exit status 0 when every check ran and passed
#
# What it checks:
#   1. determinism ops (TensorFlow only): tests/fitness/test_gpu_determinism.py, the compiled training graph
#      of a classification and a regression candidate holds no op without a deterministic GPU kernel under op
#      determinism; then, on the GPU, a classification and a regression candidate trained twice with the
#      compiled trainer (fitness.evaluate.evaluate_genome, op determinism on) give identical records.
#   2. Keras reference trainer on JAX (KERAS_BACKEND=jax): a classification and a regression candidate (batch
#      norm, dropout) trained twice on the GPU with evonas.fitness.trainers.keras_fit.train_keras give identical histories
#      and bitwise identical weights; XLA runs with --xla_gpu_deterministic_ops=true.
#
# What works where (found on the 2-core CPU machine, TensorFlow 2.21, Keras 3.15.1, jax/jaxlib 0.10.2 CPU):
#   - fitness.trainers.keras_fit, fitness.model (build_model, make_optimizer) and fitness.data (load_dataset of an
#     in-memory table) run under KERAS_BACKEND=jax with TensorFlow absent (an import hook refusing every
#     tensorflow import): tests/fitness/test_keras_trainer.py::test_keras_trainer_runs_on_jax_without_tensorflow.
#     Keras' Normalization layer imports TensorFlow only when it is already in sys.modules.
#   - fitness.trainers (compiled, plain, fused) (the compiled trainer) and fitness.runtime are TensorFlow
#     code: they do not run on JAX. So part 1 runs only where TensorFlow is installed; the GPU machines within
#     reach carry PyTorch and JAX but not TensorFlow (and a TensorFlow wheel is too big to send), so there part 1
#     is reported as skipped. The op check of part 1 needs no GPU (it reads the traced graph): the CPU test
#     suite runs it (tests/fitness), so the GPU-side gap is only "the compiled trainer on a real GPU".
#   - load_dataset("digits") needs scikit-learn: the checks use synthetic tables (numpy + pandas only).
#
# Needs on the GPU machine: python3 with jax (CUDA), numpy, pandas and keras 3 (+ its pure deps: absl-py, namex,
# optree, rich, h5py, packaging, ml-dtypes). Missing ones are listed and the script stops. To bring Keras along,
# prepare a folder on the CPU machine matching the GPU machine's Python, e.g.
#   .venv/bin/pip install --target build/gpu_deps --no-deps --only-binary=:all: --python-version 3.11 \
#       --platform manylinux2014_x86_64 keras namex optree rich absl-py h5py markdown-it-py mdurl pygments
# and carry it (run's carry: ["build/gpu_deps"]; build/ is git-ignored); this script puts build/gpu_deps on
# PYTHONPATH when it exists (EVONAS_GPU_DEPS names another folder).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
PY=${PYTHON:-python3}
DEPS=${EVONAS_GPU_DEPS:-$PWD/build/gpu_deps}
export PYTHONPATH="$PWD${DEPS:+:$DEPS}${PYTHONPATH:+:$PYTHONPATH}"
status=0

echo "== machine"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
"$PY" -c 'import sys; print("python", sys.version.split()[0])'

echo "== 1. compiled trainer (TensorFlow)"
if "$PY" -c 'import tensorflow' 2>/dev/null; then
    timeout 240 "$PY" -m pytest -q -p no:cacheprovider tests/fitness/test_gpu_determinism.py || status=1
    timeout 240 "$PY" - <<'EOF' || status=1
import numpy as np, pandas as pd
from evonas.fitness import TrainSettings, configure_tensorflow, evaluate_genome, load_dataset
from evonas.fitness.runtime import import_tensorflow
from evonas.genome import SearchSpace, random_genome

tf = import_tensorflow()
configure_tensorflow(1)
print("GPUs:", tf.config.list_logical_devices("GPU"))
rng = np.random.default_rng(0)
x = rng.normal(size=(2000, 8))
frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
frame["y"] = 3 * x[:, 0] - x[:, 1] ** 2 + rng.normal(scale=0.1, size=2000)
frame["label"] = (x[:, 0] + x[:, 2] > 0).astype(int) + (x[:, 3] > 1).astype(int)
tables = {"regression": load_dataset(frame.drop(columns="label"), "y"),
          "classification": load_dataset(frame.drop(columns="y"), "label")}
space = SearchSpace(max_levels=3, max_units=3)
genes = random_genome(space, np.random.default_rng(3))
bad = 0
for task, data in tables.items():
    a, b = (evaluate_genome(space, genes, data, TrainSettings(max_epochs=5, patience=3), 1) for _ in range(2))
    same = a["status"] == "ok" and a["objective"] == b["objective"] and a["epochs"] == b["epochs"]
    print(task, a["status"], a["objective"], b["objective"], a["error"], "identical" if same else "DIFFERENT")
    bad += not same
raise SystemExit(bad)
EOF
else
    echo "skipped: no TensorFlow here (the op check runs in the CPU test suite: tests/fitness/test_gpu_determinism.py)"
fi

echo "== 2. Keras reference trainer on JAX"
missing=$("$PY" - <<'EOF'
import importlib.util
print(" ".join(m for m in ("jax", "numpy", "pandas", "keras") if importlib.util.find_spec(m) is None))
EOF
)
if [ -n "$missing" ]; then
    echo "cannot run: missing $missing (see the header: build/gpu_deps)"
    exit 1
fi
export KERAS_BACKEND=jax
export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=true"
export JAX_DEFAULT_MATMUL_PRECISION=highest
export XLA_PYTHON_CLIENT_PREALLOCATE=false
timeout 360 "$PY" - <<'EOF' || status=1
import time

import jax
import keras
import numpy as np
import pandas as pd

from fitness import build_model, load_dataset
from evonas.fitness.trainers.keras_fit import train_keras
from evonas.fitness.model import make_optimizer
from evonas.genome import SearchSpace, decode, random_genome

assert keras.backend.backend() == "jax", keras.backend.backend()
devices = jax.devices()
print("jax", jax.__version__, "keras", keras.__version__, "devices", devices)
on_gpu = devices[0].platform == "gpu"
rng = np.random.default_rng(0)
x = rng.normal(size=(2000, 8))
frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
frame["y"] = 3 * x[:, 0] - x[:, 1] ** 2 + rng.normal(scale=0.1, size=2000)
frame["label"] = (x[:, 0] + x[:, 2] > 0).astype(int) + (x[:, 3] > 1).astype(int)
tables = {"regression": load_dataset(frame.drop(columns="label"), "y"),
          "classification": load_dataset(frame.drop(columns="y"), "label")}
space = SearchSpace(max_levels=3, max_units=3, dropout_choices=(0.2,))  # dropout on every unit
genes = random_genome(space, np.random.default_rng(3))
genes[space.layout.batchnorm] = 1  # batch norm on every unit
arch = decode(space, genes)
print(arch.describe())
bad = 0
for task, data in tables.items():
    runs = []
    for _ in range(2):
        start = time.perf_counter()
        keras.utils.set_random_seed(11)
        model = build_model(arch, data.n_features, data.n_outputs, task, data.feature_mean, data.feature_var, 11)
        history = train_keras(model, arch, make_optimizer(arch.optimizer, arch.learning_rate), data, 5, 3, 11)
        runs.append((history, [np.asarray(w) for w in model.get_weights()], time.perf_counter() - start))
    (h1, w1, t1), (h2, w2, t2) = runs
    same = h1 == h2 and all(np.array_equal(a, b) for a, b in zip(w1, w2))
    print(f"{task}: val_loss {h1['val_loss']} ({t1:.1f} s, {t2:.1f} s):", "identical" if same else "DIFFERENT")
    if not same:
        print("  second run:", h2["val_loss"])
    bad += not same
if not on_gpu:
    print("NOTE: JAX sees no GPU: the check ran on", devices[0].platform)
    bad += 1
raise SystemExit(bad)
EOF
echo "== done: $([ $status -eq 0 ] && echo passed || echo FAILED)"
exit $status
