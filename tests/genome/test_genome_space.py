"""SearchSpace: validation, coercion, round trip through plain data."""

from __future__ import annotations

import json
import math
import re
from typing import Any

import pytest

from evonas.genome import SearchSpace, SpaceError


def test_defaults_are_valid_and_hashable() -> None:
    space = SearchSpace()
    assert space.max_levels == 4 and space.max_units == 4
    assert space.neuron_choices == (4, 8, 16, 32, 64, 128, 256, 512)
    assert hash(space) == hash(SearchSpace())
    assert space == SearchSpace()


def test_lists_are_coerced_to_tuples() -> None:
    space = SearchSpace(neuron_choices=[8, 16], activations=["relu"], batch_sizes=[32])
    assert space.neuron_choices == (8, 16)
    assert space.activations == ("relu",)
    assert isinstance(space.batch_sizes, tuple)
    assert space == SearchSpace(neuron_choices=(8, 16), activations=("relu",), batch_sizes=(32,))
    hash(space)


def test_numbers_are_normalised() -> None:
    space = SearchSpace(dropout_choices=[0, 0.5], learning_rates=[1, 2], connection_probability=1)
    assert space.dropout_choices == (0.0, 0.5)
    assert all(isinstance(x, float) for x in space.learning_rates)
    assert isinstance(space.connection_probability, float)


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"max_levels": 0}, "space.max_levels"),
        ({"max_levels": 17}, "space.max_levels"),
        ({"max_levels": 2.5}, "space.max_levels"),
        ({"max_levels": True}, "space.max_levels"),
        ({"max_units": 0}, "space.max_units"),
        ({"max_units": 17}, "space.max_units"),
        ({"max_params": 0}, "space.max_params"),
        ({"neuron_choices": ()}, "space.neuron_choices"),
        ({"neuron_choices": (16, 8)}, "space.neuron_choices"),
        ({"neuron_choices": (8, 8)}, "space.neuron_choices"),
        ({"neuron_choices": (0, 8)}, "space.neuron_choices"),
        ({"neuron_choices": (8.5,)}, "space.neuron_choices"),
        ({"activations": ()}, "space.activations"),
        ({"activations": "relu"}, "space.activations"),
        ({"activations": ("relu", "mish")}, "space.activations"),
        ({"activations": ("relu", "relu")}, "space.activations"),
        ({"dropout_choices": (0.0, 1.0)}, "space.dropout_choices"),
        ({"dropout_choices": (-0.1, 0.0)}, "space.dropout_choices"),
        ({"dropout_choices": (0.2, 0.1)}, "space.dropout_choices"),
        ({"optimizers": ("adagrad",)}, "space.optimizers"),
        ({"learning_rates": (0.0, 1e-3)}, "space.learning_rates"),
        ({"learning_rates": (1e-3, 1e-4)}, "space.learning_rates"),
        ({"learning_rates": (math.nan,)}, "space.learning_rates"),
        ({"batch_sizes": (0, 32)}, "space.batch_sizes"),
        ({"batch_sizes": ("32",)}, "space.batch_sizes"),
        ({"connection_probability": 1.5}, "space.connection_probability"),
        ({"connection_probability": -0.1}, "space.connection_probability"),
        ({"connection_probability": math.nan}, "space.connection_probability"),
    ],
)
def test_bad_values_name_the_key(kwargs: dict[str, Any], key: str) -> None:
    with pytest.raises(SpaceError, match=re.escape(key)) as info:
        SearchSpace(**kwargs)
    assert "\n" not in str(info.value)


def test_message_style() -> None:
    with pytest.raises(SpaceError) as info:
        SearchSpace(max_levels=0)
    assert str(info.value) == "space.max_levels must be >= 1, got 0"


def test_space_error_is_a_value_error() -> None:
    assert issubclass(SpaceError, ValueError)


def test_to_dict_is_plain_and_round_trips() -> None:
    space = SearchSpace(max_levels=3, neuron_choices=(8, 32), activations=("selu", "linear"))
    d = space.to_dict()
    assert all(not isinstance(v, tuple) for v in d.values())
    assert d["neuron_choices"] == [8, 32]
    restored = SearchSpace.from_dict(json.loads(json.dumps(d)))
    assert restored == space
    assert restored.layout is space.layout


def test_from_dict_fills_defaults() -> None:
    assert SearchSpace.from_dict({"max_units": 2}) == SearchSpace(max_units=2)
    assert SearchSpace.from_dict({}) == SearchSpace()


def test_from_dict_rejects_unknown_key() -> None:
    with pytest.raises(SpaceError, match=re.escape("unknown key 'space.max_layers'")) as info:
        SearchSpace.from_dict({"max_layers": 3})
    assert "max_levels" in str(info.value)  # the known keys are listed


def test_from_dict_rejects_non_mapping() -> None:
    with pytest.raises(SpaceError):
        SearchSpace.from_dict([("max_levels", 2)])  # type: ignore[arg-type]


def test_layout_is_cached_per_space() -> None:
    assert SearchSpace().layout is SearchSpace().layout
    assert SearchSpace(max_units=3).layout is not SearchSpace().layout


def test_space_pickles_for_worker_processes() -> None:
    import pickle

    space = SearchSpace(max_units=3, activations=("relu", "selu"))
    restored = pickle.loads(pickle.dumps(space))
    assert restored == space and hash(restored) == hash(space)
    assert restored.layout is space.layout
