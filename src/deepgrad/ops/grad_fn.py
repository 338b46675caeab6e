"""`Tensor.grad_fn`: a read-only view of a tensor's graph node, for inspection.

deepgrad has no separate node objects (a non-leaf tensor is its own node), so
`grad_fn` builds a small view on demand: `name()` in PyTorch's spelling
(`MulBackward0`) and `next_functions`, one `(node, 0)` pair per input, where a
leaf that requires grad appears as `AccumulateGrad` and a constant as `None`.
"""

from __future__ import annotations

from typing import Any

from ..core.tensor import node_name


class AccumulateGrad:
    """The node standing for a leaf that requires grad; `variable` is the leaf."""

    __slots__ = ("variable",)
    next_functions: tuple = ()

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def name(self) -> str:
        """'AccumulateGrad', as in PyTorch."""
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return "<AccumulateGrad>"


class GradFn:
    """The recorded op that produced a tensor: its name and the nodes of its inputs."""

    __slots__ = ("_tensor",)

    def __init__(self, tensor: Any) -> None:
        self._tensor = tensor

    def name(self) -> str:
        """The op's name in PyTorch's spelling (`MulBackward0`)."""
        return node_name(self._tensor._prim.name)

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """One `(node, 0)` per input: a `GradFn`, an `AccumulateGrad` or None."""
        inputs = self._tensor._inputs or ()
        return tuple((_node_of(x), 0) for x in inputs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GradFn) and other._tensor is self._tensor

    def __hash__(self) -> int:
        return id(self._tensor)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _node_of(x: Any) -> Any:
    if not x.requires_grad:
        return None
    if x._prim is None:
        return AccumulateGrad(x)
    return GradFn(x)


def grad_fn_of(t: Any) -> GradFn | None:
    """`t.grad_fn`: None for leaves and for tensors outside any graph."""
    return GradFn(t) if t._prim is not None else None
