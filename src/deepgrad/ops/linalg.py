"""Matrix products: matmul (1-D, 2-D, batched with broadcasting) and einsum.

For C = A B:  dA = G B^T,  dB = A^T G  (batched over leading axes), and the
JVP is dC = dA B + A dB.  einsum's VJP for operand k is an einsum of the
gradient with the other operands, written to operand k's subscripts.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import as_tensor
from ._base import (
    Case,
    Domain,
    ErrorCase,
    Tensor,
    _ones,
    _wrap,
    apply,
    broadcast_shapes,
    coerce_pair,
    each,
    needs,
    prepare,
    primitive,
)
from .cast import cast
from .shape import broadcast_to, reshape, swapaxes


def _mT(x: Tensor) -> Tensor:
    return swapaxes(x, -1, -2)


@primitive(
    "matmul",
    vjp=[
        lambda g, ans, a, b, **_: matmul(g, _mT(b)),
        lambda g, ans, a, b, **_: matmul(_mT(a), g),
    ],
    jvp=[lambda t, ans, a, b, **_: matmul(t, b), lambda t, ans, a, b, **_: matmul(a, t)],
    domain=Domain(
        [
            Case(((2, 3), (3, 4))),
            Case(((3,), (3,))),
            Case(((3,), (3, 2))),
            Case(((2, 3), (3,))),
            Case(((2, 2, 3), (3, 4))),
            Case(((2, 1, 2, 3), (3, 3, 2))),
            Case(((0, 3), (3, 2))),
            Case(((2, 3), (3, 4)), {"order": "F"}),
        ],
        fn=lambda a, b, order="C": matmul(a, b) if order == "C" else matmul_p(a, b, order=order),
        errors=[
            ErrorCase(lambda: matmul(_ones(2, 3), _ones(4, 2)), ValueError, r"matmul: "),
            ErrorCase(lambda: matmul(_ones(), _ones(2)), ValueError, r"matmul: "),
        ],
    ),
)
def matmul_p(a, b, order="C"):
    """$C = A B$ over the last two axes; dA = G B^T, dB = A^T G.

    `order="F"` (2-D operands only) writes C into a new column-major array: the
    same values, laid out like a column-major parameter (see `nn.Linear`).
    """
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == 1 and a.dtype == b.dtype:
        # an outer product (a batch-1 weight gradient): BLAS's K = 1 path is ~5x slower
        # than the broadcast product, and both compute each entry as one exact product
        return np.multiply(a, b, order=order)
    if order == "C":
        return np.matmul(a, b)
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b), order="F")
    return np.matmul(a, b, out=out)


def matmul(a, b) -> Tensor:
    """Matrix product with NumPy's rules: 1-D operands are promoted and the added
    axis removed; leading (batch) axes broadcast."""
    if type(a) is not Tensor or type(b) is not Tensor:
        a, b = coerce_pair(a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least 1 dim, got {a.shape} @ {b.shape}")
    if a._data.dtype != b._data.dtype:
        a, b = prepare("matmul", a, b) if a.shape == b.shape else _promote(a, b)
    if a.ndim == 2 and b.ndim == 2:
        if a.shape[1] != b.shape[0]:
            raise ValueError(_inner_msg(a, b))
        return apply(matmul_p, a, b)
    va, vb = a.ndim == 1, b.ndim == 1
    a2 = reshape(a, (1,) + a.shape) if va else a
    b2 = reshape(b, b.shape + (1,)) if vb else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(_inner_msg(a, b))
    batch = broadcast_shapes("matmul", a2.shape[:-2], b2.shape[:-2])
    if a2.shape[:-2] != batch and (needs(a2) or a2.ndim > 2):
        a2 = broadcast_to(a2, batch + a2.shape[-2:]) if needs(a2) else a2
    if b2.shape[:-2] != batch and needs(b2):
        b2 = broadcast_to(b2, batch + b2.shape[-2:])
    out = apply(matmul_p, a2, b2)
    if va and vb:
        return reshape(out, out.shape[:-2])
    if va:
        return reshape(out, out.shape[:-2] + out.shape[-1:])
    if vb:
        return reshape(out, out.shape[:-1])
    return out


def _promote(a, b):
    dt = np.result_type(a._data, b._data)
    return cast(a, dt), cast(b, dt)


def _inner_msg(a, b) -> str:
    return (
        f"matmul: {a.shape} @ {b.shape}: inner dimensions {a.shape[-1]} and "
        f"{b.shape[-2] if b.ndim > 1 else b.shape[0]} differ"
    )


def _parse(subscripts: str, n: int) -> tuple[list[str], str]:
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ValueError("einsum: ellipsis ('...') is not supported; name every axis")
    if "->" in s:
        lhs, out = s.split("->")
    else:
        lhs = s
        letters = lhs.replace(",", "")
        out = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    ins = lhs.split(",")
    if len(ins) != n:
        raise ValueError(f"einsum: '{subscripts}' names {len(ins)} operands, got {n}")
    return ins, out


def _einsum_vjp(k: int):
    def rule(g, ans, *xs, subscripts):
        ins, out = _parse(subscripts, len(xs))
        target = ins[k]
        if len(set(target)) != len(target):
            raise ValueError(
                f"einsum: cannot differentiate operand {k} with repeated index '{target}'"
            )
        others = [x for j, x in enumerate(xs) if j != k]
        spec = [s for j, s in enumerate(ins) if j != k]
        avail = set(out).union(*spec) if spec else set(out)
        kept = "".join(c for c in target if c in avail)
        res = einsum(",".join([out] + spec) + "->" + kept, g, *others)
        if kept != target:  # axes summed inside operand k alone: broadcast back
            shape = tuple(xs[k].shape[i] if c in avail else 1 for i, c in enumerate(target))
            res = broadcast_to(reshape(res, shape), xs[k].shape)
        return res

    return rule


def _einsum_jvp(k: int):
    def rule(t, ans, *xs, subscripts):
        parts = list(xs)
        parts[k] = t
        return einsum(subscripts, *parts)

    return rule


@primitive(
    "einsum",
    vjp=each(_einsum_vjp),
    jvp=each(_einsum_jvp),
    domain=Domain(
        [
            Case(((2, 3),), {"subscripts": "ij->ji"}),
            Case(((2, 3),), {"subscripts": "ij->i"}),
            Case(((2, 3), (3, 4)), {"subscripts": "ij,jk->ik"}),
            Case(((2, 3), (2, 3)), {"subscripts": "ij,ij->"}),
            Case(((2, 3), (4,)), {"subscripts": "ij,k->ijk"}),
            Case(((2, 3, 4), (2, 4)), {"subscripts": "bij,bj->bi"}),
            Case(((2, 3), (3, 4), (4,)), {"subscripts": "ij,jk,k->i"}),
        ],
        fn=lambda *xs, subscripts: einsum(subscripts, *xs),
        errors=[
            ErrorCase(
                lambda: einsum("ij,jk->ik", _ones(2, 3)),
                ValueError,
                r"einsum: 'ij,jk->ik' names 2 operands, got 1",
            ),
            ErrorCase(
                lambda: einsum("ij->i", _ones(2)),
                ValueError,
                r"einsum: operand 'ij' has 2 indices but shape \(2,\)",
            ),
            ErrorCase(lambda: einsum("...i->i", _ones(2)), ValueError, r"einsum: ellipsis"),
        ],
    ),
)
def einsum_p(*xs, subscripts):
    """Einstein summation, e.g. 'ij,jk->ik'; each operand's VJP is another einsum."""
    return np.einsum(subscripts, *xs, optimize=len(xs) > 2)


def einsum(subscripts: str, *operands) -> Tensor:
    """Einstein summation over named axes (explicit '->' output, or NumPy's implicit one)."""
    ts = [as_tensor(o) for o in operands]
    ins, out = _parse(subscripts, len(ts))
    for s, t in zip(ins, ts):
        if len(s) != t.ndim:
            raise ValueError(f"einsum: operand '{s}' has {len(s)} indices but shape {t.shape}")
    if len({t.dtype for t in ts}) > 1:
        dt = np.result_type(*[t._data for t in ts])
        ts = [cast(t, dt) for t in ts]
    return apply(einsum_p, *ts, subscripts=",".join(ins) + "->" + out)


def outer(a: Tensor, b: Tensor) -> Tensor:
    """Outer product of two vectors."""
    return einsum("i,j->ij", a, b)


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two vectors."""
    return matmul(a, b)


_ = _wrap
