"""Image data: built-in images, .npz files and class folders; scaling from train pixels; the checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from evonas.fitness import DataError, load_dataset
from evonas.fitness.images import FILE, LABEL, channel_statistics, pixel_columns, read_images


def _digits_images(n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return bunch.images[:n].astype(np.uint8), bunch.target[:n]


def test_builtin_digits_as_images_keeps_the_rows_and_split_of_the_table() -> None:
    flat = load_dataset("digits")
    images = load_dataset("digits", images=True)
    assert flat.image_shape is None and images.image_shape == (8, 8, 1)
    assert images.feature_names == tuple(pixel_columns((8, 8, 1)))
    np.testing.assert_array_equal(images.x_train, flat.x_train)  # the same hash split, the same rows
    np.testing.assert_array_equal(images.y_test, flat.y_test)
    # one mean and variance for the single channel, from every train pixel
    assert np.all(images.feature_mean == np.float32(flat.x_train.mean(dtype=np.float64)))
    assert np.all(images.feature_var == np.float32(flat.x_train.var(dtype=np.float64)))
    assert images.ple_bins == () and images.audit["image_shape"] == [8, 8, 1]
    assert images.encoder.image_shape == (8, 8, 1) and flat.encoder.image_shape is None
    assert images.fingerprint != flat.fingerprint  # other scaling: other cached tensors


def test_an_npz_of_grey_and_of_colour_images(tmp_path: Path) -> None:
    x, y = _digits_images()
    np.savez(tmp_path / "grey.npz", x=x, y=y)
    data = load_dataset(tmp_path / "grey.npz")
    assert data.image_shape == (8, 8, 1) and data.target == LABEL and data.task == "classification"
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 300
    colour = np.stack([x, 16 - x, x // 2], axis=-1)
    np.savez(tmp_path / "colour.npz", x=colour, y=y)
    rgb = load_dataset(tmp_path / "colour.npz")
    assert rgb.image_shape == (8, 8, 3)
    # pixel columns in height, width, channel order; one statistic per channel
    mean, _ = channel_statistics(rgb.x_train, (8, 8, 3))
    assert mean[0] == mean[3] and mean[0] != mean[1]
    expected = rgb.x_train.reshape(len(rgb.x_train), 64, 3)[:, :, 1].mean(dtype=np.float64)
    assert mean[1] == pytest.approx(expected, rel=1e-6)
    # images=False reads the same file as a flat table of pixels
    assert load_dataset(tmp_path / "grey.npz", images=False).image_shape is None


def test_a_folder_of_class_folders(tmp_path: Path) -> None:
    x, y = _digits_images(120)
    for i, (image, label) in enumerate(zip(x, y, strict=True)):
        folder = tmp_path / f"digit{label}"
        folder.mkdir(exist_ok=True)
        Image.fromarray((image * 15).astype(np.uint8), mode="L").save(folder / f"{i:03d}.png")
    frame, shape = read_images(tmp_path)
    assert shape == (8, 8, 1) and list(frame.columns[:2]) == [FILE, "px0"] and frame.columns[-1] == LABEL
    assert frame[FILE].iloc[0].startswith("digit0") and set(frame[LABEL]) == {f"digit{k}" for k in range(10)}
    data = load_dataset(tmp_path)
    assert data.image_shape == (8, 8, 1) and FILE in data.audit["dropped_columns"]["identifiers"]
    assert data.classes == tuple(sorted(f"digit{k}" for k in range(10)))


def test_bad_image_sources_are_one_line_errors(tmp_path: Path) -> None:
    x, y = _digits_images(40)
    np.savez(tmp_path / "no_y.npz", x=x)
    with pytest.raises(DataError, match="has no array 'y'"):
        load_dataset(tmp_path / "no_y.npz")
    np.savez(tmp_path / "short.npz", x=x, y=y[:10])
    with pytest.raises(DataError, match="x has 40 images but y has 10 labels"):
        load_dataset(tmp_path / "short.npz")
    np.savez(tmp_path / "flat.npz", x=x.reshape(40, 64), y=y)
    with pytest.raises(DataError, match="N x H x W or N x H x W x C"):
        load_dataset(tmp_path / "flat.npz")
    holes = x.astype(np.float32)
    holes[0, 0, 0] = np.nan
    np.savez(tmp_path / "holes.npz", x=holes, y=y)
    with pytest.raises(DataError, match="missing or infinite pixels"):
        load_dataset(tmp_path / "holes.npz")
    sizes = tmp_path / "sizes"
    for label, side in (("a", 8), ("b", 9)):
        (sizes / label).mkdir(parents=True)
        Image.fromarray(np.zeros((side, side), np.uint8)).save(sizes / label / "one.png")
    with pytest.raises(DataError, match="differ in size"):
        load_dataset(sizes)
    with pytest.raises(DataError, match="data.images needs images, and 'ames' is a table"):
        load_dataset("ames", images=True)
    with pytest.raises(DataError, match="data.images needs images, and a DataFrame is a table"):
        load_dataset(pd.DataFrame({"a": [1, 2], "y": [0, 1]}), "y", images=True)
    with pytest.raises(DataError, match="numeric_transform = 'robust' is for tables"):
        load_dataset("digits", images=True, numeric_transform="robust")


def test_sixteen_bit_grey_hidden_files_and_corrupt_files(tmp_path: Path) -> None:
    root = tmp_path / "scans"
    values = np.array([[1000, 30000], [65535, 0]], dtype=np.uint16)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(values + i).save(root / label / f"{i}.png")
    (root / ".cache").mkdir()
    Image.fromarray(np.zeros((5, 5), np.uint8)).save(root / ".cache" / "thumb.png")
    (root / "a" / "._0.png").write_bytes(b"not an image")  # macOS metadata: skipped
    frame, shape = read_images(root)
    assert shape == (2, 2, 1) and len(frame) == 6  # the hidden folder and file are not read
    assert frame.loc[0, ["px0", "px1", "px2", "px3"]].tolist() == [1000.0, 30000.0, 65535.0, 0.0]
    # a grey image saved as RGB stays grey; the run's channels decide when predicting
    rgb = tmp_path / "rgb" / "a"
    rgb.mkdir(parents=True)
    Image.fromarray(np.full((2, 2, 3), 7, np.uint8)).save(rgb / "0.png")
    assert read_images(tmp_path / "rgb")[1] == (2, 2, 1)
    assert read_images(tmp_path / "rgb", channels=3)[1] == (2, 2, 3)
    (tmp_path / "bad.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DataError, match="cannot read .* as an .npz file"):
        load_dataset(tmp_path / "bad.npz")
    np.save(tmp_path / "one.npy", np.zeros((3, 4, 4)))
    (tmp_path / "one.npy").rename(tmp_path / "one.npz")
    with pytest.raises(DataError, match="cannot read .* as an .npz file"):
        load_dataset(tmp_path / "one.npz")
    np.savez(tmp_path / "first.npz", x=np.zeros((4, 3, 16, 16), np.float32), y=np.arange(4))
    with pytest.raises(DataError, match="channels first"):
        load_dataset(tmp_path / "first.npz")
    with pytest.raises(DataError, match="data file not found"):
        load_dataset(tmp_path / "missing.npz", images=True)
