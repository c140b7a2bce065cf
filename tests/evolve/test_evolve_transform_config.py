"""data.numeric_transform / data.target_transform in the configuration and in old run directories."""

from __future__ import annotations

import pytest
import tomli_w

from evonas.evolve.config import LEGACY_DATA, ConfigError, DataConfig, RunConfig


def test_unknown_transforms_are_refused_by_key():
    with pytest.raises(ConfigError, match="data.numeric_transform must be standard, robust, quantile"):
        DataConfig(numeric_transform="minmax")
    with pytest.raises(ConfigError, match="data.target_transform must be auto, none, log"):
        RunConfig.from_dict({"data": {"target_transform": "sqrt"}})


def test_the_transforms_round_trip_through_config_toml(tmp_path):
    cfg = RunConfig().with_overrides(data={"numeric_transform": "quantile", "target_transform": "log"})
    path = tmp_path / "config.toml"
    path.write_text(cfg.dumps())
    assert RunConfig.load_saved(path).data == cfg.data == RunConfig.load(path).data


def test_a_run_directory_written_before_the_transforms_keeps_their_old_behaviour(tmp_path):
    d = RunConfig().to_dict()
    for key in LEGACY_DATA:
        del d["data"][key]
    path = tmp_path / "config.toml"
    path.write_text(tomli_w.dumps(d))  # as an evonas without the two keys wrote it
    saved = RunConfig.load_saved(path)
    assert (saved.data.numeric_transform, saved.data.target_transform) == ("standard", "none")
    assert RunConfig.load(path).data == DataConfig()  # a user's configuration file takes today's defaults
