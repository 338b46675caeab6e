"""Truncated backpropagation through time (Williams & Peng 1990; Sutskever 2013, ch. 3).

A long sequence is cut into chunks of `k` steps.  The recurrent state is carried
from one chunk to the next (so the forward pass sees the whole history) but
detached at each chunk boundary, so each backward pass spans at most `k` steps and
memory stays O(k).  One optimizer step follows each chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.tensor import Tensor
from ..nn.utils.clip_grad import clip_grad_norm_
from ..ops.index import getitem

__all__ = ["detach_state", "tbptt_chunks", "tbptt_epoch"]


def detach_state(state: Any) -> Any:
    """The same nested tuple/list of tensors, each cut from the graph (None stays None)."""
    if state is None:
        return None
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    raise TypeError(
        f"detach_state: expected tensors in tuples or lists, got {type(state).__name__}"
    )


def tbptt_chunks(x: Tensor, k: int, dim: int = 0) -> Iterator[Tensor]:
    """Consecutive slices of `k` steps of `x` along `dim` (the last may be shorter)."""
    if k < 1:
        raise ValueError(f"tbptt_chunks: k must be a positive number of steps, got {k}")
    steps = x.shape[dim]
    lead = (slice(None),) * (dim % x.ndim)
    for start in range(0, steps, k):
        yield getitem(x, (*lead, slice(start, min(start + k, steps))))


def tbptt_epoch(
    model: Callable[[Tensor, Any], tuple[Tensor, Any]],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: Any,
    x: Tensor,
    y: Tensor,
    k: int,
    state: Any = None,
    dim: int = 0,
    max_norm: float | None = None,
) -> tuple[list[float], Any]:
    """One pass over a long sequence by truncated BPTT: for each chunk of `k` steps,
    `out, state = model(x_chunk, state)`, `loss_fn(out, y_chunk)`, backward, optional
    gradient clipping to `max_norm` (Pascanu et al. 2013), an optimizer step, and the
    state detached.  `x` and `y` are cut along `dim`.  Returns each chunk's loss and the
    final (detached) state, to carry into the next pass."""
    if x.shape[dim] != y.shape[dim]:
        raise ValueError(
            f"tbptt_epoch: x and y must have the same number of steps on dim {dim}, got "
            f"{x.shape} and {y.shape}"
        )
    params = [p for group in optimizer.param_groups for p in group["params"]]
    losses = []
    for xc, yc in zip(tbptt_chunks(x, k, dim), tbptt_chunks(y, k, dim)):
        optimizer.zero_grad()
        out, state = model(xc, state)
        loss = loss_fn(out, yc)
        loss.backward()
        if max_norm is not None:
            clip_grad_norm_(params, max_norm)
        optimizer.step()
        state = detach_state(state)
        losses.append(float(loss._data))
    return losses, state
