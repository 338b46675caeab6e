"""Flatten parameters into one vector and back (for line searches, second-order methods)."""

from __future__ import annotations

from collections.abc import Iterable

from ...core.tensor import Tensor
from ...ops.shape import concatenate, reshape


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and concatenated, in order (differentiable)."""
    flat = [reshape(p, (-1,)) for p in parameters]
    if not flat:
        raise ValueError("parameters_to_vector: got no parameters")
    return flat[0] if len(flat) == 1 else concatenate(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of `vec` into the parameters, in place."""
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(
            f"vector_to_parameters: expected a vector of {total} elements, got shape {vec.shape}"
        )
    offset = 0
    for p in params:
        p._data[...] = vec._data[offset : offset + p.numel()].reshape(p.shape)
        offset += p.numel()
