"""`deepgrad.nn.utils`: gradient clipping, parameter <-> vector conversion, functional calls.

A package so later tools (model summaries, ...) can add a module here and one import line.
"""

from ..summary import Summary, summary
from . import parametrizations, parametrize, prune, rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .parametrizations import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm
from .stateless import functional_call

# torch.nn.utils.weight_norm / spectral_norm: PyTorch deprecates its hook-based originals;
# here they are the parametrization versions (parameters under `parametrizations.weight`,
# not `weight_g`/`weight_v`), so programs calling them run unchanged.

__all__ = [
    "Summary",
    "clip_grad_norm_",
    "clip_grad_value_",
    "functional_call",
    "parameters_to_vector",
    "parametrizations",
    "parametrize",
    "prune",
    "remove_spectral_norm",
    "remove_weight_norm",
    "rnn",
    "spectral_norm",
    "summary",
    "vector_to_parameters",
    "weight_norm",
]  # fmt: skip
