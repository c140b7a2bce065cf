"""Image data: read image sources into a frame of pixel columns, and the image statistics.

An image run keeps the house's table machinery: each image is one row of
``px0 .. px{H*W*C-1}`` pixel columns (height, width, channel order, as numpy's
``reshape`` lays them out), so the hash split by content, the audit, the
train-only encoder and ``evonas predict`` on a CSV of pixel rows work as for a
table. The :class:`~fitness.data.Dataset` carries ``image_shape``, and the
model reshapes the scaled pixels back into images ahead of its conv levels.

Sources:

* ``mnist5k`` (28x28x1) and ``digits`` (8x8x1), built in, with ``data.images = true``;
* an ``.npz`` file with ``x`` (N x H x W, or N x H x W x C) and ``y`` (N labels);
* a folder with one subfolder per class holding PNG / JPEG / BMP / GIF files
  of one size (the subfolder's name is the label; a ``file`` column, the path
  inside the folder, is the identifier). Images are read as grey (16-bit and
  float grey keep their values) unless one of them has colour, then all as RGB.

Scaling (:func:`channel_statistics`): one mean and variance per channel over
every pixel of the train images, not one per pixel column, so a pixel that is
almost always 0 is not blown up by its tiny variance.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evonas.fitness.validate import DataError

BUILTIN_SHAPES: dict[str, tuple[int, int, int]] = {"mnist5k": (28, 28, 1), "digits": (8, 8, 1)}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
LABEL = "label"  # the target column of an .npz or folder source
FILE = "file"  # the identifier column of a folder source
MAX_PIXELS = 65_536  # pixel values per image (height x width x channels): 256x256 grey


def pixel_columns(shape: tuple[int, int, int]) -> list[str]:
    """``px0 .. px{H*W*C-1}``: the column names of an image's pixels."""
    return [f"px{i}" for i in range(int(np.prod(shape)))]


def pixel_frame(
    x: np.ndarray, labels: np.ndarray | None = None, files: list[str] | None = None
) -> pd.DataFrame:
    """One row per image of ``x`` (N x H x W x C), pixels as float32 columns, then ``label`` / ``file``."""
    flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    frame = pd.DataFrame(flat, columns=pixel_columns(x.shape[1:]))
    if files is not None:
        frame.insert(0, FILE, files)
    if labels is not None:
        frame[LABEL] = labels
    return frame


def _as_images(x: np.ndarray, where: str) -> np.ndarray:
    """``x`` as N x H x W x C float32, checked."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or min(x.shape) < 1:
        raise DataError(f"{where}: x must be N x H x W or N x H x W x C images, got shape {x.shape}")
    if x.shape[1] in (1, 3, 4) and x.shape[3] not in (1, 3, 4):
        raise DataError(
            f"{where}: x of shape {x.shape} looks like N x C x H x W (channels first): "
            "give N x H x W x C (numpy.transpose(x, (0, 2, 3, 1)))"
        )
    if x.dtype.kind not in "iuf":
        raise DataError(f"{where}: x must hold numbers, got dtype {x.dtype}")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise DataError(f"{where}: x has missing or infinite pixels: fill them before the search")
    if int(np.prod(x.shape[1:])) > MAX_PIXELS:
        raise DataError(
            f"{where}: images of {'x'.join(map(str, x.shape[1:]))} have more than {MAX_PIXELS:,} pixel "
            "values: resize them (e.g. to 128x128 grey or 96x96 colour)"
        )
    return x.astype(np.float32, copy=False)


def read_npz(path: Path, labels_required: bool = True) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    """The pixel frame and image shape of an ``.npz`` with ``x`` and ``y``."""
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):
            raise ValueError("it holds one array, not named arrays")
        with loaded as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, TypeError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"cannot read {path} as an .npz file ({exc}): save it with numpy.savez(x=..., y=...)"
        ) from None
    if "x" not in arrays:
        names = ", ".join(sorted(arrays)) or "none"
        raise DataError(
            f"{path} has no array 'x' (it has {names}): save the images as x= and the labels as y="
        )
    x = _as_images(arrays["x"], str(path))
    y = arrays.get("y")
    if y is None and labels_required:
        raise DataError(f"{path} has no array 'y': save the labels as y=, one per image")
    if y is not None:
        y = np.asarray(y).reshape(-1)
        if len(y) != len(x):
            raise DataError(
                f"{path}: x has {len(x)} images but y has {len(y)} labels: give one label per image"
            )
    return pixel_frame(x, y), tuple(int(n) for n in x.shape[1:])  # type: ignore[return-value]


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in path.relative_to(root).parts)


def _image_files(folder: Path, root: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not _hidden(p, root)
    )


def _pixels(im: Any) -> np.ndarray:
    """An image's pixels: H x W for grey (16-bit and float grey keep their values), else H x W x 3."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        return np.asarray(im.convert("F"))
    if im.mode in ("1", "L"):
        return np.asarray(im.convert("L"))
    rgb = np.asarray(im.convert("RGB"))
    return rgb[..., 0] if not _coloured(rgb) else rgb  # a palette or RGB file can hold a grey image


def read_folder(
    path: Path, labels_required: bool = True, channels: int | None = None
) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    """The pixel frame and image shape of a folder of class subfolders (or, to predict, of images).

    Images are grey unless one of them has colour (then all are RGB), or as
    ``channels`` says (1 or 3: a run's images, to predict). Hidden files and
    folders (``.name``, ``__MACOSX``) are skipped.
    """
    from PIL import Image

    try:
        classes = sorted(p for p in path.iterdir() if p.is_dir() and not _hidden(p, path))
        files = [f for c in classes for f in _image_files(c, path)] if classes else []
        if not files and not labels_required:
            classes, files = [], _image_files(path, path)
    except OSError as exc:
        raise DataError(f"cannot read the folder {path} ({exc}): check its permissions") from None
    if not files:
        hint = "one subfolder per class holding its images" if labels_required else "image files"
        raise DataError(
            f"no .png/.jpg/.bmp/.gif image in the folder {path}: give a folder with {hint}, "
            "or the path of a .csv/.parquet table"
        )
    images = []
    for f in files:
        try:
            with Image.open(f) as im:
                images.append(_pixels(im))
        except Exception as exc:  # PIL raises OSError, ValueError, DecompressionBombError...
            raise DataError(
                f"cannot read image {f} ({type(exc).__name__}: {exc}): remove or re-save it"
            ) from None
    sizes = {a.shape[:2] for a in images}
    if len(sizes) > 1:
        listed = ", ".join(f"{h}x{w}" for h, w in sorted(sizes)[:3])
        raise DataError(f"the images in {path} differ in size ({listed}...): resize them to one size")
    colour = any(a.ndim == 3 for a in images)
    if channels == 1 and colour:
        raise DataError(f"the images in {path} have colour; the run was trained on grey images: convert them")
    colour = colour or channels == 3
    x = np.stack(
        [(np.repeat(a[..., None], 3, axis=-1) if a.ndim == 2 else a) if colour else a for a in images]
    )
    x = _as_images(x, str(path))
    relative = [f.relative_to(path).as_posix() for f in files]
    labels = np.array([f.relative_to(path).parts[0] for f in files], dtype=object) if classes else None
    return pixel_frame(x, labels, relative), tuple(int(n) for n in x.shape[1:])  # type: ignore[return-value]


def _coloured(rgb: np.ndarray) -> bool:
    """Whether an RGB image has a pixel whose channels differ."""
    return bool(np.any(rgb[..., 0] != rgb[..., 1]) or np.any(rgb[..., 1] != rgb[..., 2]))


def is_image_source(path: Path) -> bool:
    """An ``.npz`` file or a folder: the image sources (a table is a .csv / .parquet file)."""
    return path.is_dir() or (path.is_file() and path.suffix.lower() == ".npz")


def read_images(
    path: Path, labels_required: bool = True, channels: int | None = None
) -> tuple[pd.DataFrame, tuple[int, int, int]]:
    """The pixel frame and image shape of an ``.npz`` or a folder (``channels``: see :func:`read_folder`)."""
    if path.is_dir():
        return read_folder(path, labels_required, channels)
    return read_npz(path, labels_required)


def channel_statistics(x_train: np.ndarray, shape: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel column, the mean and variance of its channel over every train pixel (float32).

    A channel without variance gets 1, so the scaled pixels are finite.
    """
    pixels = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1, shape[2])
    mean = pixels.mean(axis=(0, 1))
    var = pixels.var(axis=(0, 1))
    var[var == 0] = 1.0
    per_column = int(shape[0]) * int(shape[1])
    return (
        np.tile(mean, per_column).astype(np.float32),
        np.tile(var, per_column).astype(np.float32),
    )


__all__ = [
    "BUILTIN_SHAPES",
    "FILE",
    "LABEL",
    "channel_statistics",
    "is_image_source",
    "pixel_columns",
    "pixel_frame",
    "read_folder",
    "read_images",
    "read_npz",
]
