"""The conv block of an image network as plain data: conv levels, their skips, the readout.

A network for image data starts with conv levels ahead of its Dense lattice
(DEvol's side of the mission, with the lattice idea one level down). Level
``c`` is::

    Concatenate(inputs, resized to level c-1's height and width)
      -> Conv2D(filters, kernel x kernel, "same" padding) -> [BatchNorm] -> activation
      -> [2x2 max or avg pooling, "same" padding] -> [Dropout]

Level 0 reads the image; level ``c > 0`` always reads level ``c - 1``, and a
conv skip bit adds an earlier level ``s < c - 1``, max-pooled by ``2**k`` when
``k`` pooling levels lie between (with "same" padding, ``k`` halvings of a side
``n`` give ``ceil(n / 2**k)``, exactly what one pooling of ``2**k`` gives). The
last level's output is flattened or pooled over its positions (the readout)
and is the input of the Dense lattice.

Example:
    >>> a = ConvLevel(0, 16, 3, "relu", 0.0, False, "max", ("input",))
    >>> b = ConvLevel(1, 32, 3, "relu", 0.0, True, "max", (0,))
    >>> conv_shapes((a, b), (28, 28, 1), "flatten")
    ([(1, 16, 14, 14), (16, 32, 7, 7)], 1568)
    >>> conv_params((a, b), (28, 28, 1))
    4928
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE = "input"  # the source name of the image itself (the architecture's INPUT)

ImageShape = tuple[int, int, int]  # height, width, channels


@dataclass(frozen=True)
class ConvLevel:
    """One conv level. ``inputs`` is ``("input",)`` for level 0, else the levels it reads, ascending
    (the last one is ``index - 1``)."""

    index: int
    filters: int
    kernel: int
    activation: str
    dropout: float
    batchnorm: bool
    pooling: str
    inputs: tuple[int | str, ...]

    @property
    def name(self) -> str:
        """``"C{index}"``, e.g. ``"C1"``."""
        return f"C{self.index}"

    @property
    def below(self) -> int | str:
        """The source whose height and width the level keeps: the level below, or the image."""
        return IMAGE if self.index == 0 else self.index - 1

    @property
    def skips(self) -> tuple[int, ...]:
        """The earlier levels this one reads besides the level below it."""
        return tuple(s for s in self.inputs if isinstance(s, int) and s != self.index - 1)

    def summary(self) -> str:
        """Short settings text, e.g. ``"32k3-relu+bn+max+d0.2"``."""
        text = f"{self.filters}k{self.kernel}-{self.activation}"
        if self.batchnorm:
            text += "+bn"
        if self.pooling != "none":
            text += f"+{self.pooling}"
        if self.dropout:
            text += f"+d{self.dropout:g}"
        return text

    def canonical(self) -> list[object]:
        """What the architecture key hashes of this level."""
        return [
            self.index,
            self.filters,
            self.kernel,
            self.activation,
            float(self.dropout),
            bool(self.batchnorm),
            self.pooling,
            list(self.inputs),
        ]


def conv_name(source: int | str) -> str:
    """``"C{c}"`` for a level, ``"image"`` for the image itself."""
    return "image" if isinstance(source, str) else f"C{source}"


def conv_shapes(
    levels: tuple[ConvLevel, ...], image_shape: ImageShape, readout: str
) -> tuple[list[tuple[int, int, int, int]], int]:
    """Per level ``(input channels, filters, output height, output width)``, and the readout width.

    The input channels of a level are the summed channels of what it
    concatenates; a pooling level halves height and width, rounding up.
    """
    height, width, channels = (int(n) for n in image_shape)
    out: dict[int | str, tuple[int, int, int]] = {IMAGE: (height, width, channels)}
    shapes = []
    for level in levels:
        h, w, _ = out[level.below]
        c_in = sum(out[src][2] for src in level.inputs)
        if level.pooling != "none":
            h, w = -(-h // 2), -(-w // 2)
        out[level.index] = (h, w, level.filters)
        shapes.append((c_in, level.filters, h, w))
    h, w, c = out[levels[-1].index] if levels else out[IMAGE]
    return shapes, (h * w * c if readout == "flatten" else c)


def conv_params(levels: tuple[ConvLevel, ...], image_shape: ImageShape) -> int:
    """Keras ``count_params`` of the conv levels: ``k*k*c_in*f + f`` per Conv2D, ``4*f`` per BatchNorm."""
    shapes, _ = conv_shapes(levels, image_shape, "global_avg")
    total = 0
    for level, (c_in, filters, _, _) in zip(levels, shapes, strict=True):
        total += level.kernel * level.kernel * c_in * filters + filters
        total += 4 * filters if level.batchnorm else 0
    return total


def conv_macs(levels: tuple[ConvLevel, ...], image_shape: ImageShape) -> int:
    """Multiply-adds of one image's forward pass through the conv levels (for the cost model)."""
    shapes, _ = conv_shapes(levels, image_shape, "global_avg")
    height, width = int(image_shape[0]), int(image_shape[1])
    sizes: dict[int | str, tuple[int, int]] = {IMAGE: (height, width)}
    total = 0
    for level, (c_in, filters, h, w) in zip(levels, shapes, strict=True):
        h_in, w_in = sizes[level.below]
        total += h_in * w_in * level.kernel * level.kernel * c_in * filters
        sizes[level.index] = (h, w)
    return total


def describe_conv(levels: tuple[ConvLevel, ...], readout: str) -> str:
    """``"conv 16k3-relu+max / 32k5-elu+bn (1 skip) -> flatten"``; empty without conv levels."""
    if not levels:
        return ""
    skips = sum(len(level.skips) for level in levels)
    note = f" ({skips} skip{'s' if skips != 1 else ''})" if skips else ""
    return f"conv {' / '.join(level.summary() for level in levels)}{note} -> {readout}"


def conv_diff(
    a: tuple[ConvLevel, ...], b: tuple[ConvLevel, ...], readout_a: str, readout_b: str
) -> list[str]:
    """Changes from conv block ``a`` (parent) to ``b`` (child), in words, level by level."""
    changes: list[str] = []
    if len(a) != len(b):
        changes.append(f"conv levels {len(a)} -> {len(b)}")
    for level in b[len(a) :]:
        changes.append(f"+ conv level {level.name} ({level.summary()})")
    for level in a[len(b) :]:
        changes.append(f"- conv level {level.name}")
    for la, lb in zip(a, b):
        where = f"conv level {la.name}"
        if la.filters != lb.filters:
            changes.append(f"{where}: {la.filters} -> {lb.filters} filters")
        if la.kernel != lb.kernel:
            changes.append(f"{where}: kernel {la.kernel} -> {lb.kernel}")
        if la.activation != lb.activation:
            changes.append(f"{where}: activation {la.activation} -> {lb.activation}")
        if la.dropout != lb.dropout:
            changes.append(f"{where}: dropout {la.dropout:g} -> {lb.dropout:g}")
        if la.batchnorm != lb.batchnorm:
            changes.append(f"{where}: {'+' if lb.batchnorm else '-'} batchnorm")
        if la.pooling != lb.pooling:
            changes.append(f"{where}: pooling {la.pooling} -> {lb.pooling}")
        for s in sorted(set(la.skips) ^ set(lb.skips)):
            sign = "+" if s in lb.skips else "-"
            changes.append(f"{sign} conv skip C{s} -> {lb.name}")
    if a and b and readout_a != readout_b:
        changes.append(f"readout {readout_a} -> {readout_b}")
    return changes


def conv_dot_lines(levels: tuple[ConvLevel, ...], readout: str) -> list[str]:
    """DOT lines of the conv block: an ``image`` node, one box per level, the ``input`` (readout) node."""
    lines = ['  "image" [shape=ellipse, label="image"];']
    for level in levels:
        label = f"{level.name}\\n{level.filters} filters {level.kernel}x{level.kernel} {level.activation}"
        extras = [level.pooling + " pool"] if level.pooling != "none" else []
        extras += ["bn"] if level.batchnorm else []
        extras += [f"dropout {level.dropout:g}"] if level.dropout else []
        if extras:
            label += "\\n" + ", ".join(extras)
        lines.append(f'  "{level.name}" [shape=box, style=rounded, label="{label}"];')
    for level in levels:
        for src in level.inputs:
            style = 'style=dashed, color="blue"' if src in level.skips else 'color="black"'
            lines.append(f'  "{conv_name(src)}" -> "{level.name}" [{style}];')
    if levels:
        lines.append(f'  "{levels[-1].name}" -> "input" [color="black", label="{readout}"];')
    return lines


__all__ = [
    "ConvLevel",
    "ImageShape",
    "conv_diff",
    "conv_dot_lines",
    "conv_macs",
    "conv_name",
    "conv_params",
    "conv_shapes",
    "describe_conv",
]
