"""Architecture: parameter count, edges, describe, DOT, diff."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from evonas.genome import (
    INPUT,
    Architecture,
    SearchSpace,
    Unit,
    decode,
    diff,
    fmt_lr,
    random_genome,
)

Build = Callable[..., np.ndarray]


def small_arch() -> Architecture:
    """L0U0 and L0U1 read the input; L1U0 reads the input and both; head L0U1 + L1U0."""
    return Architecture(
        units=(
            Unit(0, 0, 8, "relu", 0.0, False, (INPUT,)),
            Unit(0, 1, 4, "tanh", 0.2, True, (INPUT,)),
            Unit(1, 0, 16, "gelu", 0.0, True, (INPUT, (0, 0), (0, 1))),
        ),
        outputs=((0, 1), (1, 0)),
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=64,
    )


def test_n_params_by_hand() -> None:
    arch = small_arch()
    # n_inputs = 10, n_outputs = 3
    l0u0 = 10 * 8 + 8  # Dense on the raw input
    l0u1 = 4 * 10 + (10 * 4 + 4)  # BatchNorm(10) + Dense
    l1u0 = 4 * 22 + (22 * 16 + 16)  # width 10 + 8 + 4 = 22
    head = (4 + 16) * 3 + 3
    assert arch.n_params(10, 3) == l0u0 + l0u1 + l1u0 + head == 691


def test_dense_shapes_by_hand() -> None:
    # each unit's Dense reads its concatenated inputs (L1U0: 10 + 8 + 4); the head reads L0U1 and L1U0
    assert small_arch().dense_shapes(10, 3) == [(10, 8), (10, 4), (22, 16), (20, 3)]


def test_unit_naming() -> None:
    unit = Unit(2, 1, 8, "relu", 0.0, False, ((1, 1),))
    assert unit.id == (2, 1)
    assert unit.name == "L2U1"


def test_edges_kinds(space3: SearchSpace, build: Build) -> None:
    genes = build(
        space3,
        n_levels=3,
        n_units=[2, 2, 1],
        inputs=[(2, 0)],
        skips=[((0, 1), (2, 0))],
        laterals=[((1, 0), (1, 1))],
        outputs=[(1, 1)],
    )
    edges = decode(space3, genes).edges()
    assert sorted(edges) == sorted(
        [
            ("input", "L0U0", "input"),
            ("input", "L0U1", "input"),
            ("L0U0", "L1U0", "vertical"),
            ("L0U1", "L1U1", "vertical"),
            ("L1U0", "L1U1", "lateral"),
            ("input", "L2U0", "input"),
            ("L0U1", "L2U0", "skip"),
            ("L1U0", "L2U0", "vertical"),
            ("L1U1", "output", "output"),
            ("L2U0", "output", "output"),
        ]
    )
    assert len(edges) == len(set(edges))


def test_connection_counts(space3: SearchSpace, build: Build) -> None:
    genes = build(
        space3,
        n_levels=3,
        n_units=[2, 2, 2],
        inputs=[(2, 0), (1, 1), (0, 0)],  # the input into L0U0 is the ordinary one: not counted
        skips=[((0, 1), (2, 0)), ((0, 0), (2, 1))],
        laterals=[((1, 0), (1, 1))],
        outputs=[(1, 1), (2, 0)],  # L2U0 is in the last level: not an extra output
    )
    arch = decode(space3, genes)
    assert arch.connection_counts() == {"skip": 2, "lateral": 1, "input": 2, "output": 1}
    assert "2 skip, 1 lateral, 2 input, 1 extra output" in arch.describe()


def test_describe_is_one_informative_line() -> None:
    text = small_arch().describe()
    assert "\n" not in text
    assert text.startswith("2 levels [2,1] | ")
    assert "8-relu" in text and "4-tanh+bn+d0.2" in text and "16-gelu+bn" in text
    assert "1 input" in text and "1 extra output" in text
    assert text.endswith("adam lr=1e-3 bs=64")


def test_to_dot_has_every_unit_and_edge() -> None:
    space = SearchSpace()
    rng = np.random.default_rng(11)
    for _ in range(10):
        arch = decode(space, random_genome(space, rng))
        dot = arch.to_dot("net")
        assert dot.startswith('digraph "net" {') and dot.rstrip().endswith("}")
        assert '"input"' in dot and '"output"' in dot
        for unit in arch.units:
            assert f'"{unit.name}" [label="{unit.name}\\n{unit.neurons} {unit.activation}' in dot
        for source, target, _ in arch.edges():
            assert f'"{source}" -> "{target}"' in dot
        assert dot.count("->") == len(arch.edges())
        assert dot.count("rank=same") == arch.n_levels
    vertical_line = next(line for line in small_arch().to_dot().splitlines() if 'L0U0" -> "L1U0' in line)
    assert "style" not in vertical_line  # vertical edges are plain


def test_key_is_stable_and_structural() -> None:
    a, b = small_arch(), small_arch()
    assert a.key == b.key and len(a.key) == 16
    other = Architecture(a.units, a.outputs, a.optimizer, 3e-3, a.batch_size)
    assert other.key != a.key


@pytest.mark.parametrize(
    ("x", "text"),
    [(1e-3, "1e-3"), (3e-3, "3e-3"), (3e-2, "3e-2"), (1e-4, "1e-4"), (0.1, "1e-1"), (2.5e-4, "2.5e-4")],
)
def test_fmt_lr(x: float, text: str) -> None:
    assert fmt_lr(x) == text


def test_diff_word_for_word(build: Build) -> None:
    space = SearchSpace(max_levels=3, max_units=2)
    common = {
        "n_levels": 3,
        "batchnorm": [],
        "outputs": [(1, 1)],  # keeps L1U1 alive in both
    }
    parent = build(
        space,
        **common,
        n_units=[2, 2, 1],
        neurons={slot: 4 for slot in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]},
        skips=[((0, 1), (2, 0))],
        learning_rate=2,
        batch_size=1,
    )
    child = build(
        space,
        **common,
        n_units=[2, 2, 2],  # + L2U1
        neurons={slot: 4 for slot in [(0, 0), (0, 1), (1, 1), (2, 0), (2, 1)]} | {(1, 0): 5},
        activation={(1, 1): 2},
        laterals=[((1, 0), (1, 1))],
        learning_rate=3,
        batch_size=2,
    )
    a, b = decode(space, parent), decode(space, child)
    assert diff(a, b) == [
        "level 2: units 1 -> 2",
        "level 1 unit 0: 64 -> 128 neurons",
        "level 1 unit 1: activation relu -> gelu",
        "+ unit L2U1 (64 relu)",
        "+ lateral L1U0 -> L1U1",
        "- skip L0U1 -> L2U0",
        "learning rate 1e-3 -> 3e-3",
        "batch size 32 -> 64",
    ]
    assert diff(b, a) == [
        "level 2: units 2 -> 1",
        "level 1 unit 0: 128 -> 64 neurons",
        "level 1 unit 1: activation gelu -> relu",
        "- unit L2U1",
        "- lateral L1U0 -> L1U1",
        "+ skip L0U1 -> L2U0",
        "learning rate 3e-3 -> 1e-3",
        "batch size 64 -> 32",
    ]
    assert diff(a, a) == [] and diff(b, b) == []


def test_diff_other_phrasings() -> None:
    a = Architecture(
        units=(
            Unit(0, 0, 8, "relu", 0.0, False, (INPUT,)),
            Unit(0, 1, 8, "relu", 0.0, False, (INPUT,)),
            Unit(1, 0, 8, "relu", 0.0, True, ((0, 0),)),
        ),
        outputs=((0, 1), (1, 0)),
        optimizer="adam",
        learning_rate=1e-3,
        batch_size=32,
    )
    b = Architecture(
        units=(
            Unit(0, 0, 8, "relu", 0.1, True, (INPUT,)),
            Unit(0, 1, 8, "relu", 0.0, False, (INPUT,)),
            Unit(1, 0, 8, "relu", 0.0, False, (INPUT, (0, 0), (0, 1))),
            Unit(2, 0, 16, "tanh", 0.0, False, ((1, 0),)),
        ),
        outputs=((2, 0),),
        optimizer="sgd",
        learning_rate=1e-3,
        batch_size=32,
    )
    assert diff(a, b) == [
        "levels 2 -> 3",
        "level 0 unit 0: dropout 0 -> 0.1",
        "level 0 unit 0: + batchnorm",
        "level 1 unit 0: - batchnorm",
        "+ unit L2U0 (16 tanh)",
        "+ input -> L1U0",
        "+ vertical L0U1 -> L1U0",
        "- output from L0U1",
        "- output from L1U0",
        "optimizer adam -> sgd",
    ]


def test_diff_is_empty_only_for_equal_keys() -> None:
    space = SearchSpace(max_levels=2, max_units=2)
    rng = np.random.default_rng(5)
    archs = [decode(space, random_genome(space, rng)) for _ in range(40)]
    for a in archs:
        for b in archs[:10]:
            assert (diff(a, b) == []) == (a.key == b.key)
