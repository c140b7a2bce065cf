"""The compiled training graph holds no op that lacks a deterministic GPU kernel under op determinism.

evonas turns op determinism on (:mod:`fitness.runtime`). On a GPU, TensorFlow
then raises ``UnimplementedError`` from the ops that have no deterministic GPU
kernel, at the first step: every candidate would fail there. These tests trace
the compiled training (the epochs' while loop, the steps, the validation and the
optimizer update: one ``tf.function``) of a classification and a regression
candidate on this CPU machine and read every op type of the graph and of the
functions of its while loops, so the check needs no GPU.

``UNDETERMINISTIC_ON_GPU`` lists the op types to keep out. Sources:

- the error strings compiled into the installed TensorFlow 2.21
  (``strings libtensorflow_cc.so.2 | grep -i determinis``): "The GPU implementation of
  SparseSoftmaxCrossEntropyWithLogits that would have been executed is not
  deterministic. Note that the Python API uses an alternative, deterministic,
  GPU-accelerated path" (the same for ``SoftmaxCrossEntropyWithLogits``: the
  raw ops raise, ``tf.nn.*_cross_entropy_with_logits`` switch to
  ``log_softmax`` at trace time, see ``tensorflow/python/ops/nn_ops.py``),
  "Deterministic GPU implementation of (un)sorted segment reduction op not
  available", "... SparseTensorDenseMatmulOp ...", "... fused batch-norm backprop,
  when training is disabled ...", "... CropAndResizeBackpropImage/Boxes ...",
  "... ResizeNearestNeighborGrad ...", "... AdjustContrast(v2) ...",
  "... DepthwiseConvBackpropFilter ...", "Determinism is not yet supported in GPU
  implementation of Bincount / DenseBincount / FakeQuantWithMinMaxVars(PerChannel)Gradient
  / Scatter ops with ref inputs", "... for MaxPoolGradWithArgmax / Dilation2DBackprop*",
  "Timestamp cannot be called when determinism is enabled";
- the documentation of ``tf.config.experimental.enable_op_determinism``
  (https://www.tensorflow.org/api_docs/python/tf/config/experimental/enable_op_determinism):
  ops without a deterministic implementation raise ``UnimplementedError``; random
  ops need a seed;
- TensorFlow's determinism RFC (tensorflow/community, ``rfcs/20210119-determinism.md``,
  PRs 370 and 386): softmax / sparse softmax cross-entropy, segment and unsorted
  segment reductions, ``tf.gather``'s gradient (an ``UnsortedSegmentSum``), sparse-dense
  matmul, fused batch norm's offset gradient, ``tf.nn.ctc_loss``;
- the TensorFlow 2.7 / 2.8 release notes (``RELEASE.md``, "Deterministic Op
  Functionality"): deterministic GPU segment reductions exist since 2.7 for some
  types only, and the scatter ops (``tf.tensor_scatter_nd_update`` and the like)
  are run on the CPU under determinism: deterministic, but a host round-trip
  inside a GPU training loop, so they are kept out too (the trainer writes its
  history row with a select instead);
- NVIDIA/framework-reproducibility, README (the list of TensorFlow pull requests):
  #31465 "Add GPU-deterministic ``tf.nn.bias_add``" (TensorFlow 2.1: under
  determinism ``BiasAddGrad`` reduces deterministically, so it is allowed, and the
  written-out backward pass uses it), #47925 / #49178 / #50070 (the cross-entropy
  exceptions and the Python-level deterministic path), #50505 (fused batch norm),
  #51861 (segment reductions).

Stateful random ops are listed as well: under determinism they need a seed and
their numbers depend on the order of the calls; the compiled trainer uses only
stateless random ops (``StatelessShuffle``, ``StatelessRandomUniformFullInt``...).
"""

from __future__ import annotations

import numpy as np
import pytest

from evonas.fitness import build_model, configure_tensorflow, load_dataset
from evonas.fitness.model import make_optimizer
from evonas.fitness.runtime import import_tensorflow
from evonas.fitness.trainers.compiled import compile_training
from evonas.genome import SearchSpace, decode

tf = import_tensorflow()

SPACE = SearchSpace(max_levels=2, max_units=2)

UNDETERMINISTIC_ON_GPU = frozenset(
    {
        # cross-entropy kernels (the Python API avoids them under determinism; the raw ops do not)
        "SparseSoftmaxCrossEntropyWithLogits",
        "SoftmaxCrossEntropyWithLogits",
        # segment reductions (and so the gradient of tf.gather, an UnsortedSegmentSum)
        "UnsortedSegmentSum",
        "UnsortedSegmentProd",
        "UnsortedSegmentMax",
        "UnsortedSegmentMin",
        "SegmentSum",
        "SegmentSumV2",
        "SegmentProd",
        "SegmentProdV2",
        "SegmentMean",
        "SegmentMax",
        "SegmentMaxV2",
        "SegmentMin",
        "SegmentMinV2",
        "SparseSegmentSum",
        "SparseSegmentSumWithNumSegments",
        "SparseSegmentSumGrad",
        "SparseSegmentSumGradV2",
        "SparseSegmentMean",
        "SparseSegmentMeanWithNumSegments",
        "SparseSegmentMeanGrad",
        "SparseSegmentMeanGradV2",
        "SparseSegmentSqrtN",
        "SparseSegmentSqrtNWithNumSegments",
        "SparseSegmentSqrtNGrad",
        "SparseSegmentSqrtNGradV2",
        # scatters: atomics on a GPU; under determinism placed on the CPU (or refused with ref inputs)
        "ScatterAdd",
        "ScatterSub",
        "ScatterMul",
        "ScatterDiv",
        "ScatterMin",
        "ScatterMax",
        "ScatterUpdate",
        "ScatterNd",
        "ScatterNdAdd",
        "ScatterNdSub",
        "ScatterNdUpdate",
        "ScatterNdNonAliasingAdd",
        "ResourceScatterAdd",
        "ResourceScatterSub",
        "ResourceScatterMul",
        "ResourceScatterDiv",
        "ResourceScatterMin",
        "ResourceScatterMax",
        "ResourceScatterUpdate",
        "ResourceScatterNdAdd",
        "ResourceScatterNdSub",
        "ResourceScatterNdUpdate",
        "TensorScatterAdd",
        "TensorScatterSub",
        "TensorScatterMin",
        "TensorScatterMax",
        "TensorScatterUpdate",
        # others that raise UnimplementedError (or FailedPrecondition) on a GPU under determinism
        "SparseTensorDenseMatMul",
        "CTCLoss",
        "CTCLossV2",
        "FakeQuantWithMinMaxVarsGradient",
        "FakeQuantWithMinMaxVarsPerChannelGradient",
        "Bincount",
        "DenseBincount",
        "CropAndResizeGradImage",
        "CropAndResizeGradBoxes",
        "ResizeNearestNeighborGrad",
        "AdjustContrast",
        "AdjustContrastv2",
        "DepthwiseConv2dNativeBackpropFilter",
        "MaxPoolGradWithArgmax",
        "Dilation2DBackpropFilter",
        "Dilation2DBackpropInput",
        "FusedBatchNormGrad",
        "FusedBatchNormGradV2",
        "FusedBatchNormGradV3",
        "Timestamp",
        # stateful random numbers: seeded only globally, and dependent on the order of the calls
        "RandomUniform",
        "RandomUniformInt",
        "RandomStandardNormal",
        "TruncatedNormal",
        "RandomShuffle",
        "Multinomial",
    }
)


def op_types(function) -> set[str]:
    """Every op type of a ``tf.function``'s graph and of the functions it calls (while loop bodies...)."""
    graph_def = function.get_concrete_function().graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for fdef in graph_def.library.function:  # the library holds every function reachable from the graph
        types |= {node.op for node in fdef.node_def}
    return types


@pytest.fixture(scope="module")
def datasets():
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    frame = pd.DataFrame(x, columns=list("abcd"))
    frame["y"] = 3 * x[:, 0] - x[:, 1] ** 2 + rng.normal(scale=0.1, size=200)
    return {"regression": load_dataset(frame, "y"), "classification": load_dataset("digits")}


def _genes(build, optimizer):
    """Batch norm, dropout, a lateral and two levels: every kind of op the trainer writes."""
    return build(
        SPACE,
        n_levels=2,
        n_units=(2, 1),
        neurons={(0, 0): 2, (0, 1): 1, (1, 0): 2},
        activation={(0, 0): 0, (0, 1): 2, (1, 0): 3},
        batchnorm=[(0, 1), (1, 0)],
        dropout={(0, 0): 2},
        laterals=[((0, 0), (0, 1))],
        optimizer=optimizer,
        batch_size=1,
    )


@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop", "sgd"])
def test_compiled_training_graph_has_only_gpu_deterministic_ops(datasets, build, task, optimizer):
    configure_tensorflow(1)
    data = datasets[task]
    arch = decode(SPACE, _genes(build, SPACE.optimizers.index(optimizer)))
    assert any(u.batchnorm for u in arch.units) and any(u.dropout for u in arch.units)
    model = build_model(arch, data.n_features, data.n_outputs, data.task, data.feature_mean, data.feature_var)
    run = compile_training(model, arch, make_optimizer(optimizer, 1e-3), data, 3, 2, seed=1)
    types = op_types(run.function)
    # the graph really is the training: the loop, the products, the fused update, the stateless draws
    assert {"MatMul", "StatelessShuffle"} <= types
    assert types & {"While", "StatelessWhile"}
    assert types & {"ResourceApplyAdam", "ResourceApplyRMSProp", "ResourceApplyKerasMomentum"}
    if task == "classification":
        assert {"Exp", "Log", "OneHot", "ArgMax", "GatherV2"} <= types  # the written-out cross-entropy
    assert not types & UNDETERMINISTIC_ON_GPU, sorted(types & UNDETERMINISTIC_ON_GPU)


def test_the_op_reader_finds_a_forbidden_op_inside_a_while_loop():
    """The check would have caught the fused cross-entropy kernel the trainer used before."""

    @tf.function(autograph=False)
    def loop():
        def body(i, total):
            losses, _ = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
                features=tf.ones([2, 3]), labels=tf.constant([0, 1])
            )
            return i + 1, total + tf.reduce_sum(losses)

        return tf.while_loop(lambda i, total: i < 3, body, (tf.constant(0), tf.constant(0.0)))

    types = op_types(loop)
    assert "SparseSoftmaxCrossEntropyWithLogits" in types
    assert "SparseSoftmaxCrossEntropyWithLogits" not in {
        n.op for n in loop.get_concrete_function().graph.as_graph_def().node
    }  # only in the loop body's function


def test_tape_gradient_of_gather_is_a_segment_sum_the_trainer_avoids():
    """Why the trainer writes its gradients out: the tape's gradient of a gather is a forbidden op."""
    params = tf.Variable(tf.ones([5, 2]))

    @tf.function(autograph=False)
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(params, [0, 0, 3]))
        return tf.convert_to_tensor(tape.gradient(loss, params))

    assert "UnsortedSegmentSum" in op_types(step)
