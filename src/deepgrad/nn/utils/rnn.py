"""Variable-length batches for recurrent layers, as `torch.nn.utils.rnn`.

A `PackedSequence` stores the time steps of a batch of sequences one after the
other, each step holding only the sequences still running (longest first), so a
recurrent layer never updates the state of a finished sequence.  Packing and
unpacking are single index operations (`getitem` and its adjoint), so gradients
flow through both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ...core.tensor import Tensor
from ...ops import elementwise as E
from ...ops.index import getitem, index_add_zeros
from ...ops.shape import concatenate, stack, swapaxes

__all__ = ["PackedSequence", "pack_padded_sequence", "pad_packed_sequence", "pad_sequence"]


class PackedSequence(NamedTuple):
    """`data` (sum of lengths, *), time step after time step; `batch_sizes` (T,) how many
    sequences run at each step; `sorted_indices` / `unsorted_indices` map the caller's
    batch order to the length-sorted order and back (None when the input was sorted)."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None


def _lengths_array(lengths, n: int, fn: str) -> np.ndarray:
    arr = np.asarray(lengths._data if isinstance(lengths, Tensor) else lengths)
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        raise ValueError(
            f"{fn}: lengths must be {n} integers (one per sequence), got {arr.dtype} {arr.shape}"
        )
    if n and arr.min() < 1:
        raise ValueError(f"{fn}: every length must be at least 1, got {arr.tolist()}")
    return arr.astype(np.int64)


def _positions(sorted_lengths: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(time, batch) indices of the packed rows, step by step, longest sequence first."""
    steps = int(sorted_lengths[0]) if sorted_lengths.size else 0
    t_idx, b_idx = [], []
    for t in range(steps):
        running = int((sorted_lengths > t).sum())
        t_idx.append(np.full(running, t))
        b_idx.append(order[:running])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0, np.int64)
    return cat(t_idx), cat(b_idx)


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch (T, N, *) (or (N, T, *)) of sequences of the given lengths.

    With `enforce_sorted` the lengths must be non-increasing; otherwise the batch is
    sorted here and the order remembered in the result.
    """
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must be (T, N, *), got {input.shape}")
    x = swapaxes(input, 0, 1) if batch_first else input
    lens = _lengths_array(lengths, x.shape[1], "pack_padded_sequence")
    if lens.size and lens.max() > x.shape[0]:
        raise ValueError(
            f"pack_padded_sequence: a length {int(lens.max())} exceeds the {x.shape[0]} time "
            "steps of the input"
        )
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise ValueError(
                f"pack_padded_sequence: lengths {lens.tolist()} must be sorted in decreasing "
                "order when enforce_sorted=True"
            )
        order, sorted_idx, unsorted_idx = np.arange(lens.size), None, None
    else:
        order = np.argsort(-lens, kind="stable")
        sorted_idx, unsorted_idx = order, np.argsort(order)
    t_idx, b_idx = _positions(lens[order], order)
    batch_sizes = np.bincount(t_idx, minlength=int(lens.max()) if lens.size else 0)
    data = getitem(x, (t_idx, b_idx))
    wrap = lambda a: None if a is None else Tensor(a.astype(np.int64))
    return PackedSequence(
        data, Tensor(batch_sizes.astype(np.int64)), wrap(sorted_idx), wrap(unsorted_idx)
    )


def _order(packed: PackedSequence, n: int) -> np.ndarray:
    if packed.sorted_indices is None:
        return np.arange(n)
    return np.asarray(packed.sorted_indices._data)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """Undo `pack_padded_sequence`: returns the padded batch (T, N, *) (or (N, T, *)) in the
    caller's order and the lengths (N,) as an int64 tensor."""
    bs = np.asarray(sequence.batch_sizes._data)
    n = int(bs[0]) if bs.size else 0
    steps = bs.size if total_length is None else total_length
    if steps < bs.size:
        raise ValueError(
            f"pad_packed_sequence: total_length {total_length} is shorter than the longest "
            f"sequence ({bs.size} steps)"
        )
    order = _order(sequence, n)
    sorted_lengths = np.array([int((bs > k).sum()) for k in range(n)], np.int64)
    t_idx, b_idx = _positions(sorted_lengths, order)
    feat = sequence.data.shape[1:]
    out = index_add_zeros(sequence.data, (t_idx, b_idx), (steps, n) + feat)
    if padding_value != 0.0:
        filled = np.zeros((steps, n) + (1,) * len(feat), bool)
        filled[t_idx, b_idx] = True
        out = E.where(filled, out, padding_value)
    lengths = np.empty(n, np.int64)
    lengths[order] = sorted_lengths
    out = swapaxes(out, 0, 1) if batch_first else out
    return out, Tensor(lengths)


def pad_sequence(
    sequences: Sequence[Tensor],
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack sequences of shapes (L_i, *) into (L_max, N, *) (or (N, L_max, *)), padding
    each with `padding_value` on the right (or the left)."""
    seqs = list(sequences)
    if not seqs:
        raise ValueError("pad_sequence: expected a non-empty sequence of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}"
        )
    tails = {tuple(s.shape[1:]) for s in seqs}
    if len(tails) != 1 or any(s.ndim < 1 for s in seqs):
        raise ValueError(
            "pad_sequence: sequences must share every dim but the first, got shapes "
            f"{[tuple(s.shape) for s in seqs]}"
        )
    longest = max(s.shape[0] for s in seqs)
    rows = []
    for s in seqs:
        extra = longest - s.shape[0]
        if extra:
            fill = Tensor(np.full((extra,) + s.shape[1:], padding_value, s.dtype))
            parts = [s, fill] if padding_side == "right" else [fill, s]
            s = concatenate(parts, 0)
        rows.append(s)
    return stack(rows, 0 if batch_first else 1)
