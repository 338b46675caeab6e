"""`deepgrad.nn.utils`: gradient clipping, parameter <-> vector conversion, functional calls.

A package so later tools (model summaries, ...) can add a module here and one import line.
"""

from ..summary import Summary, summary
from . import rnn
from .clip_grad import clip_grad_norm_, clip_grad_value_
from .convert_parameters import parameters_to_vector, vector_to_parameters
from .stateless import functional_call

__all__ = [
    "Summary",
    "clip_grad_norm_",
    "clip_grad_value_",
    "functional_call",
    "parameters_to_vector",
    "rnn",
    "summary",
    "vector_to_parameters",
]  # fmt: skip
