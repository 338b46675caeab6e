"""torch.func's transforms under their names, on top of deepgrad's core transforms.

    grad_and_value(f)(x) = (df/dx, f(x))
    jacrev(f)(x)         = J_f(x), one reverse sweep per output element
    jacfwd(f)(x)         = J_f(x), one forward sweep per input element
    hessian(f)(x)        = jacfwd(jacrev(f))(x)

Every one of them composes with `vmap` (per-sample gradients, batched Jacobians).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..core import func as _core
from ..core.tensor import Tensor


def _flatten(tree: Any, leaves: list) -> Any:
    """Replace the tensors of a (dict / tuple / list) tree by their index in `leaves`."""
    if isinstance(tree, dict):
        return {k: _flatten(v, leaves) for k, v in tree.items()}
    if isinstance(tree, (tuple, list)):
        return type(tree)(_flatten(v, leaves) for v in tree)
    leaves.append(tree)
    return len(leaves) - 1


def _unflatten(spec: Any, leaves: Sequence) -> Any:
    if isinstance(spec, dict):
        return {k: _unflatten(v, leaves) for k, v in spec.items()}
    if isinstance(spec, (tuple, list)):
        return type(spec)(_unflatten(v, leaves) for v in spec)
    return leaves[spec]


def grad(func: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable:
    """df/dx of a scalar function as a function (`torch.func.grad`); arguments may be
    dicts, tuples or lists of tensors (the gradient has the same structure); with
    has_aux, `func` returns (value, aux) and the result is (grad, aux)."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapped(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapped


def grad_and_value(
    func: Callable, argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable:
    """(df/dx, f(x)) in one pass (`torch.func.grad_and_value`); with has_aux the value
    is (value, aux).  Note the order: gradient first, as in PyTorch (JAX's
    value_and_grad returns the value first)."""

    def wrapped(*args, **kwargs):
        nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
        nums = tuple(a % len(args) if -len(args) <= a < len(args) else a for a in nums)
        leaves: list = []
        specs = {a: _flatten(args[a], leaves) for a in nums if 0 <= a < len(args)}
        if len(specs) != len(nums):
            raise ValueError(f"grad: argnums {argnums} out of range for {len(args)} arguments")

        def flat(*ls):
            full = list(args)
            for a, spec in specs.items():
                full[a] = _unflatten(spec, ls)
            return func(*full, **kwargs)

        value, gs = _core.value_and_grad(flat, tuple(range(len(leaves))), has_aux)(*leaves)
        out = tuple(_unflatten(specs[a], gs) for a in nums)
        return (out[0] if isinstance(argnums, int) else out), value

    return wrapped


def vjp(func: Callable, *primals, has_aux: bool = False):
    """(f(primals), vjp_fn[, aux]) with vjp_fn(u) = u^T J_f (`torch.func.vjp`)."""
    if not has_aux:
        return _core.vjp(func, *primals)
    aux_box: list[Any] = []

    def f(*xs):
        out, aux = func(*xs)
        aux_box.append(aux)
        return out

    out, fn = _core.vjp(f, *primals)
    return out, fn, aux_box[0]


def jvp(func: Callable, primals: Sequence, tangents: Sequence, *, has_aux: bool = False):
    """(f(primals), J_f(primals) tangents[, aux]) by forward mode (`torch.func.jvp`)."""
    if not has_aux:
        return _core.jvp(func, primals, tangents)
    aux_box: list[Any] = []

    def f(*xs):
        out, aux = func(*xs)
        aux_box.append(aux)
        return out

    out, t = _core.jvp(f, primals, tangents)
    return out, t, aux_box[0]


def _jac(func, argnums, has_aux, mode):
    def one(args, a):
        return _core.jacobian(_drop_aux(func, has_aux), a, mode=mode)(*args)

    def wrapped(*args):
        if isinstance(argnums, int):
            jac = one(args, argnums)
        else:
            jac = tuple(one(args, a) for a in argnums)
        if has_aux:
            return jac, func(*args)[1]
        return jac

    return wrapped


def _drop_aux(func, has_aux):
    if not has_aux:
        return func
    return lambda *xs: func(*xs)[0]


def jacrev(func: Callable, argnums: int | tuple[int, ...] = 0, *, has_aux: bool = False):
    """J_f by reverse mode (`torch.func.jacrev`): shape out.shape + in.shape; a tuple
    of argnums gives a tuple of Jacobians."""
    return _jac(func, argnums, has_aux, "reverse")


def jacfwd(func: Callable, argnums: int | tuple[int, ...] = 0, has_aux: bool = False):
    """J_f by forward mode (`torch.func.jacfwd`): one JVP per input element."""
    return _jac(func, argnums, has_aux, "forward")


def hessian(func: Callable, argnums: int = 0) -> Callable:
    """d^2 f / dx^2 of a scalar function: jacfwd over jacrev (`torch.func.hessian`)."""
    return _core.hessian(func, argnums)


def _is_tensor(x: Any) -> bool:
    return isinstance(x, Tensor)
