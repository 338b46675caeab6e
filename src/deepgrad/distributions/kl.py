"""KL divergences in closed form, dispatched on the pair of types (`register_kl`)."""

from __future__ import annotations

from collections.abc import Callable

from ..core.tensor import Tensor
from ..ops.elementwise import clip, log
from ..ops.nnops import softplus_unit
from .bernoulli import Bernoulli
from .categorical import Categorical
from .composite import Independent, _sum_rightmost
from .distribution import Distribution
from .normal import Normal

__all__ = ["kl_divergence", "register_kl"]

_KL_REGISTRY: dict[tuple[type, type], Callable] = {}


def register_kl(type_p: type, type_q: type) -> Callable[[Callable], Callable]:
    """Decorator registering `fn(p, q)` as KL(p || q) for instances of (type_p, type_q).

    Dispatch picks the most specific registered pair by the classes' MROs, as PyTorch.
    """
    if not (isinstance(type_p, type) and issubclass(type_p, Distribution)):
        raise TypeError(f"register_kl: type_p must be a Distribution subclass, got {type_p!r}")
    if not (isinstance(type_q, type) and issubclass(type_q, Distribution)):
        raise TypeError(f"register_kl: type_q must be a Distribution subclass, got {type_q!r}")

    def deco(fn: Callable) -> Callable:
        _KL_REGISTRY[type_p, type_q] = fn
        return fn

    return deco


def _dispatch(tp: type, tq: type) -> Callable | None:
    best, rank = None, None
    for (a, b), fn in _KL_REGISTRY.items():
        if issubclass(tp, a) and issubclass(tq, b):
            r = (tp.__mro__.index(a), tq.__mro__.index(b))
            if rank is None or r < rank:
                best, rank = fn, r
    return best


def kl_divergence(p: Distribution, q: Distribution) -> Tensor:
    """$KL(p \\| q) = E_p[\\log p(x) - \\log q(x)]$, in closed form, one value per batch element."""
    fn = _dispatch(type(p), type(q))
    if fn is None:
        raise TypeError(
            f"kl_divergence: no KL registered for ({type(p).__name__}, {type(q).__name__}); "
            f"add one with @register_kl"
        )
    return fn(p, q)


@register_kl(Normal, Normal)
def _kl_normal_normal(p: Normal, q: Normal) -> Tensor:
    """$\\log\\frac{\\sigma_q}{\\sigma_p} + \\frac{\\sigma_p^2 + (\\mu_p-\\mu_q)^2}{2\\sigma_q^2} - \\tfrac12$."""
    ratio = p.scale / q.scale
    var_ratio = ratio * ratio
    t1 = ((p.loc - q.loc) / q.scale) ** 2
    return 0.5 * (var_ratio + t1 - 1 - log(var_ratio))


@register_kl(Bernoulli, Bernoulli)
def _kl_bernoulli_bernoulli(p: Bernoulli, q: Bernoulli) -> Tensor:
    """$p \\log\\frac{p}{q} + (1-p)\\log\\frac{1-p}{1-q}$, written with softplus of the logits."""
    t1 = p.probs * (softplus_unit(-q.logits) - softplus_unit(-p.logits))
    t2 = (1 - p.probs) * (softplus_unit(q.logits) - softplus_unit(p.logits))
    return t1 + t2


@register_kl(Categorical, Categorical)
def _kl_categorical_categorical(p: Categorical, q: Categorical) -> Tensor:
    """$\\sum_k p_k (\\log p_k - \\log q_k)$ (terms with $p_k = 0$ count 0)."""
    diff = clip(p.logits - q.logits, -1e30, None)
    t = p.probs * diff
    return t.sum(axis=-1)


@register_kl(Independent, Independent)
def _kl_independent_independent(p: Independent, q: Independent) -> Tensor:
    """The base KL summed over the reinterpreted dims (both must reinterpret the same)."""
    if p.reinterpreted_batch_ndims != q.reinterpreted_batch_ndims:
        raise ValueError(
            "kl_divergence: Independent pair with different reinterpreted_batch_ndims "
            f"({p.reinterpreted_batch_ndims} vs {q.reinterpreted_batch_ndims})"
        )
    return _sum_rightmost(kl_divergence(p.base_dist, q.base_dist), p.reinterpreted_batch_ndims)
