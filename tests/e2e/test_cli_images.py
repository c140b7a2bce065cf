"""Searching on images from the command line: a folder of PNGs, conv genomes, predict, export, resume."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomllib
from PIL import Image

from evonas.genome import SearchSpace
from tests.e2e.conftest import evonas, jsonl

pytestmark = pytest.mark.slow  # real searches (more than 2 s a test)

# a small conv space (the default, 4 conv levels of up to 128 filters, traces and trains several times
# longer), on the serial engine; prepended as the configuration file of every search here
CONFIG = """
[search]
population = 3
seed = 5
engine = "serial"
multi_fidelity = true
[training]
max_epochs = 2
patience = 1
[space]
max_conv_levels = 2
filter_choices = [4, 8]
max_levels = 1
max_units = 2
neuron_choices = [8, 16, 32]
"""


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> list[str]:
    """``CONFIG`` as the leading arguments of ``evonas run``."""
    path = tmp_path_factory.mktemp("images-config") / "images.toml"
    path.write_text(CONFIG)
    return [str(path), "--quiet"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """600 digits as 8x8 grey PNGs, one folder per class."""
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("images") / "digits"
    bunch = load_digits()
    for i, (image, label) in enumerate(zip(bunch.images[:600], bunch.target[:600], strict=True)):
        (root / f"d{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 15).astype(np.uint8), mode="L").save(root / f"d{label}" / f"{i:04d}.png")
    return root


@pytest.fixture(scope="module")
def full(folder, search, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "full"
    res = evonas("run", *search, "--dataset", str(folder), "--generations", "1", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "images 8x8x1" in res.stdout
    return out


def test_a_folder_search_finds_conv_genomes(full) -> None:
    config = tomllib.loads((full / "config.toml").read_text())
    assert config["space"]["max_conv_levels"] == 2 and config["data"]["dataset"].endswith("digits")
    assert json.loads((full / "data.json").read_text())["image_shape"] == [8, 8, 1]
    assert json.loads((full / "encoder.json").read_text())["image_shape"] == [8, 8, 1]
    done = [r for r in jsonl(full / "individuals.jsonl") if r["status"] == "ok"]
    space = SearchSpace.from_dict(config["space"])
    flat = SearchSpace.from_dict({**config["space"], "max_conv_levels": 0})
    assert done and len(done[0]["genes"]) == space.layout.size >= flat.layout.size + 6 * 2  # 6 a conv level
    show = evonas("show", str(full))
    assert show.returncode == 0 and "conv " in show.stdout and "-> " in show.stdout
    assert "test accuracy" in show.stdout


def test_stopped_then_resumed_is_the_uninterrupted_image_search(folder, search, full, tmp_path) -> None:
    """Stopped by a budget after generation 0 (a conv generation takes longer than 1 s), then resumed."""
    out = tmp_path / "stopped"
    args = ["--dataset", str(folder), "--generations", "1", "--time-budget", "1s", "--out", str(out)]
    first = evonas("run", *search, *args)
    assert first.returncode == 0, first.stderr
    assert json.loads((out / "checkpoint.json").read_text())["generation"] == 0
    again = evonas("resume", str(out), "--quiet")
    assert again.returncode == 0, again.stderr
    assert (out / "individuals.jsonl").read_text() == (full / "individuals.jsonl").read_text()
    assert json.loads((out / "test.json").read_text()) == json.loads((full / "test.json").read_text())


def test_predict_reads_a_folder_an_npz_and_pixel_rows_alike(folder, full, tmp_path) -> None:
    res = evonas("predict", str(full), str(folder), "--proba", "--out", str(tmp_path / "folder.csv"))
    assert res.returncode == 0, res.stderr
    by_folder = pd.read_csv(tmp_path / "folder.csv")
    assert list(by_folder.columns[:2]) == ["file", "prediction"] and len(by_folder) == 600
    assert by_folder["file"].iloc[0] == "d0/0000.png"
    assert set(by_folder["prediction"]) <= {f"d{k}" for k in range(10)}  # the labels are the folder names
    # the same images as an .npz (no labels needed) and as a CSV of pixel columns
    frame = by_folder[["file"]].copy()
    pixels = np.stack([np.asarray(Image.open(folder / f)) for f in frame["file"]]).astype(np.float32)
    np.savez(tmp_path / "x.npz", x=pixels)
    res = evonas("predict", str(full), str(tmp_path / "x.npz"), "--proba", "--out", str(tmp_path / "npz.csv"))
    assert res.returncode == 0, res.stderr
    by_npz = pd.read_csv(tmp_path / "npz.csv")
    pd.testing.assert_frame_equal(by_npz, by_folder.drop(columns="file"))
    pd.DataFrame(pixels.reshape(600, 64), columns=[f"px{i}" for i in range(64)]).to_csv(
        tmp_path / "rows.csv", index=False
    )
    res = evonas(
        "predict", str(full), str(tmp_path / "rows.csv"), "--proba", "--out", str(tmp_path / "rows_p.csv")
    )
    assert res.returncode == 0, res.stderr
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "rows_p.csv"), by_npz)
    # images of another size: one line, exit 2
    np.savez(tmp_path / "big.npz", x=np.zeros((2, 9, 9), np.float32))
    bad = evonas("predict", str(full), str(tmp_path / "big.npz"))
    assert bad.returncode == 2 and "trained on 8x8x1 images" in bad.stderr and "Traceback" not in bad.stderr


def test_export_takes_images(folder, full, tmp_path) -> None:
    res = evonas("export", str(full), "--to", str(tmp_path / "model.keras"))
    assert res.returncode == 0, res.stderr
    assert "input 'image': float32 images of 8x8x1" in res.stdout
    import keras

    from evonas.evolve.predict import load_predictor

    model = keras.models.load_model(tmp_path / "model.keras")
    files = sorted((folder / "d3").glob("*.png"))[:5]
    images = np.stack([np.asarray(Image.open(f)) for f in files]).astype(np.float32)[..., None]
    exported = model.predict({"image": images}, verbose=0)
    predictor = load_predictor(full)
    rows = pd.DataFrame(images.reshape(5, 64), columns=[f"px{i}" for i in range(64)])
    np.testing.assert_allclose(exported, predictor.predict_proba(rows), rtol=1e-5, atol=1e-6)


def test_lineage_and_report_draw_the_conv_lattice(full, tmp_path) -> None:
    res = evonas("lineage", str(full), "--png", str(tmp_path / "tree.png"))
    assert res.returncode == 0, res.stderr
    report = evonas("report", str(full), "--out", str(tmp_path / "report"))
    assert report.returncode == 0, report.stderr
    assert any(p.suffix == ".png" for p in (tmp_path / "report").iterdir())


def test_image_settings_on_a_table_are_one_line_errors(tmp_path) -> None:
    res = evonas("run", "--dataset", "ames", "--images", "--out", str(tmp_path / "a"), "--quiet")
    assert res.returncode == 2 and "data.images needs images, and 'ames' is a table" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "a").exists()
    config = tmp_path / "conv.toml"
    config.write_text('[data]\ndataset = "ames"\n[space]\nmax_conv_levels = 2\n')
    res = evonas("run", str(config), "--out", str(tmp_path / "b"), "--quiet")
    assert res.returncode == 2 and "space.max_conv_levels = 2 needs image data" in res.stderr
    assert not (tmp_path / "b").exists()
