"""The decoded network as plain data: live units, their inputs, the output head.

An :class:`Architecture` is what :func:`genome.decode` returns and what
``fitness`` builds into a Keras model. It is independent of the genome
encoding: two genomes that decode to the same Architecture have the same
:attr:`Architecture.key` and build the same network.

Example:
    >>> unit = Unit(0, 0, 8, "relu", 0.0, False, (INPUT,))
    >>> arch = Architecture((unit,), ((0, 0),), "adam", 1e-3, 32)
    >>> arch.n_params(n_inputs=3, n_outputs=1)
    41
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from evonas.genome.conv import (
    ConvLevel,
    ImageShape,
    conv_diff,
    conv_dot_lines,
    conv_params,
    conv_shapes,
    describe_conv,
)

UnitId = tuple[int, int]
INPUT = "input"
OUTPUT = "output"
EDGE_KINDS: tuple[str, ...] = ("input", "vertical", "skip", "lateral", "output")


def unit_name(uid: UnitId | str) -> str:
    """``"L{l}U{u}"`` for a unit id; ``"input"`` stays ``"input"``."""
    if isinstance(uid, str):
        return uid
    return f"L{uid[0]}U{uid[1]}"


def fmt_lr(x: float) -> str:
    """Learning rate in short scientific form: ``0.001 -> "1e-3"``, ``0.03 -> "3e-2"``.

    Uses one significant digit, or more when one would not give the value back
    (``0.00025 -> "2.5e-4"``), so two different rates never print alike.
    """
    for digits in range(17):
        text = f"{x:.{digits}e}"
        if float(text) == x:
            break
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{int(exponent)}"


def edge_kind(source: UnitId | str, target: UnitId) -> str:
    """Kind of the edge ``source -> target`` (never ``"output"``)."""
    if source == INPUT:
        return "input"
    assert not isinstance(source, str)
    if source[0] == target[0]:
        return "lateral"
    return "vertical" if source[0] == target[0] - 1 else "skip"


@dataclass(frozen=True)
class Unit:
    """One live unit: ``Concatenate(inputs) -> [BatchNorm] -> Dense -> [Dropout]``.

    ``inputs`` is sorted: ``"input"`` first when the raw input feeds the unit,
    then unit ids in ``(level, index)`` order, without duplicates.
    """

    level: int
    index: int
    neurons: int
    activation: str
    dropout: float
    batchnorm: bool
    inputs: tuple[UnitId | str, ...]

    @property
    def id(self) -> UnitId:
        """``(level, index)``."""
        return (self.level, self.index)

    @property
    def name(self) -> str:
        """``"L{level}U{index}"``, e.g. ``"L1U2"``."""
        return unit_name(self.id)

    def summary(self) -> str:
        """Short settings text, e.g. ``"64-relu+bn+d0.2"``."""
        text = f"{self.neurons}-{self.activation}"
        if self.batchnorm:
            text += "+bn"
        if self.dropout:
            text += f"+d{self.dropout:g}"
        return text


@dataclass(frozen=True)
class Architecture:
    """A decoded network: live units in build order, output head, training genes.

    ``units`` are sorted by ``(level, index)``, which is a valid topological
    build order (every edge goes to a later level or, laterally, to a higher
    index). ``outputs`` lists the units the output head concatenates, sorted.
    ``conv`` holds the conv levels of an image network (:mod:`genome.conv`), in
    order, and ``readout`` how the last one feeds the lattice; the lattice's
    ``input`` is then that readout. A table network has no conv level.
    """

    units: tuple[Unit, ...]
    outputs: tuple[UnitId, ...]
    optimizer: str
    learning_rate: float
    batch_size: int
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    embedding: str = "none"
    conv: tuple[ConvLevel, ...] = ()
    readout: str = "flatten"

    def training_text(self) -> str:
        """The training genes in short form, e.g. ``"adam lr=1e-3 bs=32 wd=0.01 cosine ls=0.1"``.

        Weight decay, schedule and label smoothing appear only when not the default.
        """
        text = f"{self.optimizer} lr={fmt_lr(self.learning_rate)} bs={self.batch_size}"
        if self.weight_decay:
            text += f" wd={self.weight_decay:g}"
        if self.schedule != "constant":
            text += f" {self.schedule}"
        if self.label_smoothing:
            text += f" ls={self.label_smoothing:g}"
        return text

    @property
    def key(self) -> str:
        """16 hex chars of the sha256 of the canonical structure and training genes.

        Equal keys mean the same network and the same training settings.
        """
        canonical = {
            "units": [
                [
                    u.level,
                    u.index,
                    u.neurons,
                    u.activation,
                    float(u.dropout),
                    bool(u.batchnorm),
                    [src if isinstance(src, str) else list(src) for src in u.inputs],
                ]
                for u in self.units
            ],
            "outputs": [list(uid) for uid in self.outputs],
            "optimizer": self.optimizer,
            "learning_rate": float(self.learning_rate),
            "batch_size": int(self.batch_size),
        }
        # the later training genes enter the key only when not their default, so an architecture
        # without them keeps the key it had before they existed
        if self.weight_decay:
            canonical["weight_decay"] = float(self.weight_decay)
        if self.schedule != "constant":
            canonical["schedule"] = self.schedule
        if self.label_smoothing:
            canonical["label_smoothing"] = float(self.label_smoothing)
        if self.embedding != "none":
            canonical["embedding"] = self.embedding
        if self.conv:  # the readout matters only after conv levels
            canonical["conv"] = [level.canonical() for level in self.conv]
            canonical["readout"] = self.readout
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    @property
    def n_levels(self) -> int:
        """Number of levels holding live units."""
        return max((u.level for u in self.units), default=-1) + 1

    def level_sizes(self) -> tuple[int, ...]:
        """Live units per level, e.g. ``(2, 1, 3)``."""
        sizes = [0] * self.n_levels
        for u in self.units:
            sizes[u.level] += 1
        return tuple(sizes)

    def unit(self, uid: UnitId) -> Unit:
        """The live unit with id ``uid``.

        Raises:
            KeyError: no live unit has that id.
        """
        for u in self.units:
            if u.id == uid:
                return u
        raise KeyError(unit_name(uid))

    def input_width(self, n_inputs: int, image_shape: ImageShape | None = None) -> int:
        """The width of what the lattice reads as ``input``: the features, or the conv readout.

        Raises:
            ValueError: conv levels without an ``image_shape``.
        """
        if not self.conv:
            return n_inputs
        if image_shape is None:
            raise ValueError("an architecture with conv levels needs the image shape")
        return conv_shapes(self.conv, image_shape, self.readout)[1]

    def dense_shapes(
        self, n_inputs: int, n_outputs: int, embedded: int = 0, image_shape: ImageShape | None = None
    ) -> list[tuple[int, int]]:
        """``(input width, output width)`` of each Dense layer: one per unit in build order, then the head.

        A unit's input width is the summed width of what it concatenates (the raw
        input counts ``n_inputs``, plus ``embedded`` columns of its piecewise-linear
        encoding when :attr:`embedding` is ``"ple"``, or the conv readout's width
        with conv levels: :meth:`input_width`); the head reads the output units.

        Example:
            >>> a = Unit(0, 0, 8, "relu", 0.0, False, (INPUT,))
            >>> b = Unit(1, 0, 4, "relu", 0.0, False, ((0, 0), INPUT))
            >>> Architecture((a, b), ((0, 0), (1, 0)), "adam", 1e-3, 32).dense_shapes(3, 1)
            [(3, 8), (11, 4), (12, 1)]
        """
        lattice_in = self.input_width(n_inputs, image_shape)
        width: dict[UnitId | str, int] = {INPUT: lattice_in + (embedded if self.embedding == "ple" else 0)}
        shapes = []
        for u in self.units:
            shapes.append((sum(width[src] for src in u.inputs), u.neurons))
            width[u.id] = u.neurons
        shapes.append((sum(width[uid] for uid in self.outputs), n_outputs))
        return shapes

    def n_params(
        self, n_inputs: int, n_outputs: int, embedded: int = 0, image_shape: ImageShape | None = None
    ) -> int:
        """Exact Keras ``count_params`` of the network (trainable and not), input scaling aside.

        Per unit of concatenated input width ``w``: ``4*w`` for BatchNorm (gamma,
        beta and the two moving statistics) when enabled, ``w*n + n`` for the
        Dense of ``n`` neurons. The output Dense adds ``W*n_outputs + n_outputs``
        where ``W`` is the summed width of the output units. With the ``ple``
        embedding of ``embedded`` columns, its fixed (non-trainable) Dense adds
        ``n_inputs*embedded + embedded``. Conv levels add their own
        (:func:`genome.conv.conv_params`), read on an image of ``image_shape``.
        """
        shapes = self.dense_shapes(n_inputs, n_outputs, embedded, image_shape)
        norms = sum(4 * w for (w, _), u in zip(shapes, self.units) if u.batchnorm)
        fixed = n_inputs * embedded + embedded if self.embedding == "ple" and embedded else 0
        convs = conv_params(self.conv, image_shape) if self.conv and image_shape is not None else 0
        return convs + fixed + norms + sum(w * n + n for w, n in shapes)

    def edges(self) -> list[tuple[str, str, str]]:
        """All edges as ``(source, target, kind)`` with names.

        Sources are unit names or ``"input"``, targets unit names or ``"output"``;
        kinds are ``input``, ``vertical`` (level l-1 to l), ``skip`` (from a level
        below l-1), ``lateral`` (same level) and ``output``.
        """
        out = [(unit_name(src), u.name, edge_kind(src, u.id)) for u in self.units for src in u.inputs]
        out.extend((unit_name(uid), OUTPUT, "output") for uid in self.outputs)
        return out

    def describe(self) -> str:
        """One line, e.g. ``2 levels [2,1] | 64-relu 32-gelu+bn / 16-tanh | ...``.

        Connection counts: skip and lateral edges, extra ``input`` edges into
        levels above 0, and outputs taken from below the last level.
        """
        sizes = self.level_sizes()
        by_level = [
            " ".join(u.summary() for u in self.units if u.level == level) for level in range(len(sizes))
        ]
        counts = self.connection_counts()
        levels = "level" if len(sizes) == 1 else "levels"
        inputs = " ple" if self.embedding == "ple" else ""
        conv = describe_conv(self.conv, self.readout)
        return (
            (f"{conv} | " if conv else "")
            + f"{len(sizes)} {levels} [{','.join(map(str, sizes))}]{inputs} | {' / '.join(by_level)} | "
            f"{counts['skip']} skip, {counts['lateral']} lateral, "
            f"{counts['input']} input, {counts['output']} extra output | "
            f"{self.training_text()}"
        )

    def connection_counts(self) -> dict[str, int]:
        """How much wiring beyond the plain level-to-level chain the network has.

        ``skip`` and ``lateral``: edges of those kinds; ``input``: extra edges
        from the raw input into units above level 0; ``output``: units below the
        last level that also feed the output head.

        Example:
            >>> a = Unit(0, 0, 8, "relu", 0.0, False, (INPUT,))
            >>> b = Unit(1, 0, 8, "relu", 0.0, False, ((0, 0), INPUT))
            >>> Architecture((a, b), ((0, 0), (1, 0)), "adam", 1e-3, 32).connection_counts()
            {'skip': 0, 'lateral': 0, 'input': 1, 'output': 1}
        """
        kinds = [kind for _, target, kind in self.edges() if target != OUTPUT]
        return {
            "skip": kinds.count("skip"),
            "lateral": kinds.count("lateral"),
            "input": sum(1 for u in self.units if u.level > 0 and INPUT in u.inputs),
            "output": sum(1 for uid in self.outputs if uid[0] < self.n_levels - 1),
        }

    def to_dot(self, name: str = "architecture") -> str:
        """Graphviz DOT text of the network.

        Nodes: ``input``, one per unit (name, width, activation, dropout/bn) and
        ``output``; units of a level share a rank. Vertical edges are solid,
        skip edges dashed blue, lateral edges bold red, input edges dotted gray.
        """
        styles = {
            "input": 'style=dotted, color="gray40"',
            "vertical": 'color="black"',
            "skip": 'style=dashed, color="blue"',
            "lateral": 'style=bold, color="red", constraint=false',
            "output": 'color="darkgreen"',
        }
        lines = [
            f"digraph {_dot_id(name)} {{",
            "  rankdir=TB;",
            '  node [shape=box, fontname="Helvetica"];',
            f'  "input" [shape=ellipse, label="input{" (ple)" if self.embedding == "ple" else ""}"];',
        ]
        if self.conv:
            lines += conv_dot_lines(self.conv, self.readout)
        for level in range(self.n_levels):
            lines.append(f"  subgraph level_{level} {{")
            lines.append("    rank=same;")
            for u in self.units:
                if u.level == level:
                    extras = [f"dropout {u.dropout:g}"] if u.dropout else []
                    extras += ["bn"] if u.batchnorm else []
                    label = f"{u.name}\\n{u.neurons} {u.activation}"
                    if extras:
                        label += "\\n" + ", ".join(extras)
                    lines.append(f'    "{u.name}" [label="{label}"];')
            lines.append("  }")
        lines.append(
            f'  "output" [shape=ellipse, label="output\\n{self.training_text()}"];'
        )
        for source, target, kind in self.edges():
            lines.append(f'  "{source}" -> "{target}" [{styles[kind]}];')
        lines.append("}")
        return "\n".join(lines) + "\n"


def _dot_id(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _connections(arch: Architecture) -> dict[tuple[UnitId, UnitId | str], str]:
    """Incoming edges ``(target, source) -> kind`` of every live unit."""
    return {(u.id, src): edge_kind(src, u.id) for u in arch.units for src in u.inputs}


def diff(a: Architecture, b: Architecture) -> list[str]:
    """Changes from ``a`` (parent) to ``b`` (child), in words, in a fixed order.

    Order: conv levels (:func:`genome.conv.conv_diff`), level count, live units
    per level (levels present in both), then unit by unit in ``(level, index)``
    order (``- unit``, ``+ unit`` or setting changes), then edges between units
    present in both (by target, then source), then output-head membership, then
    training genes. Edges and outputs of added or removed units are implied by
    the ``+/- unit`` line and not listed.
    """
    changes: list[str] = conv_diff(a.conv, b.conv, a.readout, b.readout)
    if a.n_levels != b.n_levels:
        changes.append(f"levels {a.n_levels} -> {b.n_levels}")
    sizes_a, sizes_b = a.level_sizes(), b.level_sizes()
    for level in range(min(len(sizes_a), len(sizes_b))):
        if sizes_a[level] != sizes_b[level]:
            changes.append(f"level {level}: units {sizes_a[level]} -> {sizes_b[level]}")

    units_a = {u.id: u for u in a.units}
    units_b = {u.id: u for u in b.units}
    for uid in sorted(units_a.keys() | units_b.keys()):
        if uid not in units_b:
            changes.append(f"- unit {unit_name(uid)}")
        elif uid not in units_a:
            ub = units_b[uid]
            changes.append(f"+ unit {unit_name(uid)} ({ub.neurons} {ub.activation})")
        else:
            changes.extend(_unit_changes(units_a[uid], units_b[uid]))

    common = units_a.keys() & units_b.keys()
    edges_a, edges_b = _connections(a), _connections(b)

    def shared(edge: tuple[UnitId, UnitId | str]) -> bool:
        target, source = edge
        return target in common and (source == INPUT or source in common)

    def order(edge: tuple[UnitId, UnitId | str]) -> tuple[UnitId, tuple[int, int]]:
        target, source = edge
        return target, (-1, -1) if isinstance(source, str) else source

    for edge in sorted(filter(shared, edges_a.keys() ^ edges_b.keys()), key=order):
        sign = "+" if edge in edges_b else "-"
        target, source = edge
        kind = edge_kind(source, target)
        if kind == "input":
            changes.append(f"{sign} input -> {unit_name(target)}")
        else:
            changes.append(f"{sign} {kind} {unit_name(source)} -> {unit_name(target)}")

    outputs_a, outputs_b = set(a.outputs), set(b.outputs)
    for uid in sorted((outputs_a ^ outputs_b) & common):
        sign = "+" if uid in outputs_b else "-"
        changes.append(f"{sign} output from {unit_name(uid)}")

    if a.optimizer != b.optimizer:
        changes.append(f"optimizer {a.optimizer} -> {b.optimizer}")
    if a.learning_rate != b.learning_rate:
        changes.append(f"learning rate {fmt_lr(a.learning_rate)} -> {fmt_lr(b.learning_rate)}")
    if a.batch_size != b.batch_size:
        changes.append(f"batch size {a.batch_size} -> {b.batch_size}")
    if a.weight_decay != b.weight_decay:
        changes.append(f"weight decay {a.weight_decay:g} -> {b.weight_decay:g}")
    if a.schedule != b.schedule:
        changes.append(f"schedule {a.schedule} -> {b.schedule}")
    if a.embedding != b.embedding:
        changes.append(f"embedding {a.embedding} -> {b.embedding}")
    if a.label_smoothing != b.label_smoothing:
        changes.append(f"label smoothing {a.label_smoothing:g} -> {b.label_smoothing:g}")
    return changes


def _unit_changes(ua: Unit, ub: Unit) -> list[str]:
    where = f"level {ua.level} unit {ua.index}"
    out: list[str] = []
    if ua.neurons != ub.neurons:
        out.append(f"{where}: {ua.neurons} -> {ub.neurons} neurons")
    if ua.activation != ub.activation:
        out.append(f"{where}: activation {ua.activation} -> {ub.activation}")
    if ua.dropout != ub.dropout:
        out.append(f"{where}: dropout {ua.dropout:g} -> {ub.dropout:g}")
    if ua.batchnorm != ub.batchnorm:
        out.append(f"{where}: {'+' if ub.batchnorm else '-'} batchnorm")
    return out
