"""`deepgrad.nn`: modules, layers, losses, initialisation and the functional API.

import deepgrad as dg
from deepgrad import nn
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 10))
loss = nn.CrossEntropyLoss()(model(x), y)
loss.backward()
"""

from . import functional, init, utils
from .activation import (
    ELU,
    GELU,
    SELU,
    Hardtanh,
    LeakyReLU,
    LinearActivation,
    LogSigmoid,
    LogSoftmax,
    Maxout,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softplus,
    Step,
    Swish,
    Tanh,
)
from .container import ModuleDict, ModuleList, Sequential
from .dropout import AlphaDropout, Dropout
from .linear import Embedding, Flatten, Identity, Linear, Unflatten
from .loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CosineEmbeddingLoss,
    CrossEntropyLoss,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from .module import Module, Parameter, RemovableHandle
from .normalization import BatchNorm1d, GroupNorm, InstanceNorm1d, LayerNorm
from .regularization import l1_penalty, l2_penalty, penalized_parameters

__all__ = [
    "ELU",
    "GELU",
    "SELU",
    "AlphaDropout",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "CosineEmbeddingLoss",
    "CrossEntropyLoss",
    "Dropout",
    "Embedding",
    "Flatten",
    "GaussianNLLLoss",
    "GroupNorm",
    "Hardtanh",
    "HingeEmbeddingLoss",
    "HuberLoss",
    "Identity",
    "InstanceNorm1d",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LinearActivation",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "Maxout",
    "Module",
    "ModuleDict",
    "ModuleList",
    "MultiMarginLoss",
    "NLLLoss",
    "PReLU",
    "Parameter",
    "ReLU",
    "ReLU6",
    "RemovableHandle",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Step",
    "Swish",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "l1_penalty",
    "l2_penalty",
    "penalized_parameters",
    "utils",
]  # fmt: skip

from . import activation_extra as _activation_extra
from . import conv as _conv
from . import graph as _graph
from . import layers_extra as _layers_extra
from . import loss_extra as _loss_extra
from .activation_extra import *
from .conv import *
from .ctc import CTCLoss
from .graph import *
from .layers_extra import *
from .loss_extra import *
from .masked_conv import DilatedCausalConv1d, MaskedConv2d
from .pooling_extra import AdaptiveMaxPool3d, Fold, LPPool1d, LPPool2d, Unfold

# their layers are part of this namespace too: conv; CELU, GLU, Mish, ...; TripletMarginLoss,
# PoissonNLLLoss, ...; Bilinear, RMSNorm, ParameterList, pads, ... (issue 13); graph layers
__all__ += _conv.__all__ + _activation_extra.__all__ + _loss_extra.__all__ + _layers_extra.__all__
__all__ += _graph.__all__ + [
    "AdaptiveMaxPool3d",
    "CTCLoss",
    "Fold",
    "LPPool1d",
    "LPPool2d",
    "Unfold",
]
__all__ += ["DilatedCausalConv1d", "MaskedConv2d"]  # PixelCNN and WaveNet layers (issue 15)

# Sequence models (issue 14): the names first, so this block stays apart from the above.
__all__ += [
    "GRU",
    "LSTM",
    "RNN",
    "AdditiveAttention",
    "CausalConv1d",
    "GRUCell",
    "KeyValueMemory",
    "LSTMCell",
    "LearnedPositionalEncoding",
    "MultiheadAttention",
    "RNNCell",
    "SinusoidalPositionalEncoding",
    "Transformer",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "WaveNetBlock",
    "attention_functional",
    "init_recurrent_",
    "rnn_functional",
]  # fmt: skip
from . import attention_functional, rnn_functional
from .attention import AdditiveAttention, MultiheadAttention
from .memory import KeyValueMemory
from .positional import LearnedPositionalEncoding, SinusoidalPositionalEncoding
from .rnn import GRU, LSTM, RNN
from .rnn_cells import GRUCell, LSTMCell, RNNCell, init_recurrent_
from .temporal import CausalConv1d, WaveNetBlock
from .transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
