"""A deep equilibrium layer: the output is the fixed point z* = f(z*, x) of a module f.

Forward: iterate f to convergence without a graph; backward: one adjoint solve
through VJPs of f (the implicit function theorem, func/implicit.py), so memory is
that of one application of f whatever the depth (Bai, Kolter & Koltun 2019).
"""

from __future__ import annotations

from ..core.tensor import Tensor
from ..nn.module import Module
from ..ops.creation import zeros
from .implicit import fixed_point
from .module_call import functional_call


class DEQ(Module):
    """z* = f(z*, x) for a module `f(z, x)`; z has shape (x.shape[0], hidden).

    f must be a contraction in z for the default solver (e.g. tanh(W z + U x) with
    ||W|| < 1); `adjoint` picks the backward's linear solver ('gmres' or 'cg').
    """

    def __init__(
        self, f: Module, hidden: int, *, tol: float = 1e-10, max_iter: int = 500,
        adjoint: str = "gmres",
    ) -> None:  # fmt: skip
        super().__init__()
        if not isinstance(f, Module):
            raise TypeError(f"DEQ: f must be an nn.Module, got {type(f).__name__}")
        if hidden <= 0:
            raise ValueError(f"DEQ: hidden must be positive, got {hidden}")
        self.f = f
        self.hidden = hidden
        self.tol, self.max_iter, self.adjoint = tol, max_iter, adjoint

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2:
            raise self.input_error("(N, features)", x.shape)
        names = [k for k, _ in self.f.named_parameters()]
        ps = [p for _, p in self.f.named_parameters()]

        def g(z, xx, *qs):
            return functional_call(self.f, dict(zip(names, qs)), (z, xx))

        z0 = zeros(x.shape[0], self.hidden, dtype=x.dtype)
        return fixed_point(
            g, z0, [x, *ps], tol=self.tol, max_iter=self.max_iter, adjoint=self.adjoint
        )
