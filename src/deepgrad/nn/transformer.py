"""Transformer layers (Vaswani et al. 2017) with PyTorch's signatures and submodule names,
so a PyTorch state dict loads as is."""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np

from ..core.state import STATE
from ..core.tensor import Tensor
from ..ops import elementwise as E
from . import functional as F
from . import init
from .attention import MultiheadAttention
from .container import ModuleList
from .dropout import Dropout
from .linear import Linear
from .module import Module
from .normalization import LayerNorm
from .registry import ErrorCase, LayerCase, layer_cases, layer_errors

__all__ = [
    "Transformer", "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder",
    "TransformerEncoderLayer",
]  # fmt: skip


def _activation(activation: str | Callable, owner: str) -> Callable:
    if callable(activation):
        return activation
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise ValueError(
        f"{owner}: activation must be 'relu', 'gelu' or a callable, got {activation!r}"
    )


class _FeedForward:
    """Shared pieces of the encoder and decoder layers (a mixin: no state of its own)."""

    def _ff_block(self, x: Tensor) -> Tensor:
        return self.dropout2(self.linear2(self.dropout(self._act(self.linear1(x)))))

    def _make_ff(self, d_model, dim_feedforward, dropout, activation, eps, bias, dt, gen):
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dt, generator=gen)
        self.dropout = Dropout(dropout, generator=gen)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dt, generator=gen)
        self.norm1 = LayerNorm(d_model, eps=eps, bias=bias, dtype=dt)
        self.norm2 = LayerNorm(d_model, eps=eps, bias=bias, dtype=dt)
        self.dropout1 = Dropout(dropout, generator=gen)
        self.dropout2 = Dropout(dropout, generator=gen)
        self._act = _activation(activation, type(self).__name__)


_SMALL = {"dim_feedforward": 6, "dropout": 0.0}
_TINY = {"dim_feedforward": 2, "dropout": 0.0}


@layer_cases(
    LayerCase(lambda: TransformerEncoderLayer(4, 2, **_SMALL), [(3, 2, 4)], avoid=(0.0,)),
    LayerCase(
        lambda: TransformerEncoderLayer(4, 2, **_SMALL, norm_first=True, activation="gelu"),
        [(2, 3, 4)],
    ),
)
@layer_errors(
    ErrorCase(
        lambda: TransformerEncoderLayer(4, 2, activation="tanhh"),
        ValueError,
        r"TransformerEncoderLayer: activation must be",
    )
)
class TransformerEncoderLayer(_FeedForward, Module):
    """Self-attention then a feed-forward block, each with a residual connection and
    LayerNorm: post-norm $x = N_1(x + SA(x))$, $x = N_2(x + FF(x))$, or with `norm_first`
    $x = x + SA(N_1 x)$, $x = x + FF(N_2 x)$ (Xiong et al. 2020);
    $FF(x) = W_2\\,\\mathrm{act}(W_1 x + b_1) + b_2$.

    `forward(src, src_mask=None, src_key_padding_mask=None, is_causal=False)`; masks as
    `MultiheadAttention`'s (boolean True = masked, or additive).
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.self_attn = MultiheadAttention(
            d_model, nhead, dropout, bias, batch_first=batch_first, dtype=dtype, generator=generator
        )
        self._make_ff(
            d_model, dim_feedforward, dropout, activation, layer_norm_eps, bias, dtype, generator
        )
        self.norm_first, self.batch_first = norm_first, batch_first

    def _sa_block(self, x: Tensor, mask, padding, is_causal: bool) -> Tensor:
        out, _ = self.self_attn(
            x, x, x, padding, need_weights=False, attn_mask=mask, is_causal=is_causal
        )
        return self.dropout1(out)

    def forward(
        self, src: Tensor, src_mask=None, src_key_padding_mask=None, is_causal: bool = False
    ) -> Tensor:
        x = src
        if self.norm_first:
            x = E.add(x, self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal))
            return E.add(x, self._ff_block(self.norm2(x)))
        x = self.norm1(E.add(x, self._sa_block(x, src_mask, src_key_padding_mask, is_causal)))
        return self.norm2(E.add(x, self._ff_block(x)))


@layer_cases(
    LayerCase(
        lambda: TransformerDecoderLayer(4, 2, **_SMALL), [(2, 1, 4), (3, 1, 4)], avoid=(0.0,)
    ),
    LayerCase(
        lambda: TransformerDecoderLayer(3, 1, **_TINY, norm_first=True, batch_first=True),
        [(1, 3, 3), (1, 2, 3)],
        avoid=(0.0,),
    ),
)
@layer_errors(
    ErrorCase(lambda: TransformerDecoderLayer(4, 3), ValueError, r"embed_dim 4 is not divisible by")
)
class TransformerDecoderLayer(_FeedForward, Module):
    """Masked self-attention, cross-attention over the encoder's `memory`, feed-forward;
    each with a residual connection and LayerNorm (post-norm, or pre-norm with `norm_first`).

    `forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)`.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        kw = {"batch_first": batch_first, "dtype": dtype, "generator": generator}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout, bias, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout, bias, **kw)
        self._make_ff(
            d_model, dim_feedforward, dropout, activation, layer_norm_eps, bias, dtype, generator
        )
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
        self.dropout3 = Dropout(dropout, generator=generator)
        self.norm_first, self.batch_first = norm_first, batch_first

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool = False,
        memory_is_causal: bool = False,
    ) -> Tensor:
        def sa(x):
            out, _ = self.self_attn(
                x, x, x, tgt_key_padding_mask, False, tgt_mask, is_causal=tgt_is_causal
            )
            return self.dropout1(out)

        def mha(x):
            out, _ = self.multihead_attn(
                x, memory, memory, memory_key_padding_mask, False, memory_mask,
                is_causal=memory_is_causal,
            )  # fmt: skip
            return self.dropout2(out)

        x = tgt
        if self.norm_first:
            x = E.add(x, sa(self.norm1(x)))
            x = E.add(x, mha(self.norm2(x)))
            return E.add(x, self._ff_block(self.norm3(x)))
        x = self.norm1(E.add(x, sa(x)))
        x = self.norm2(E.add(x, mha(x)))
        return self.norm3(E.add(x, self._ff_block(x)))

    def _ff_block(self, x: Tensor) -> Tensor:  # PyTorch's decoder uses dropout3 here
        return self.dropout3(self.linear2(self.dropout(self._act(self.linear1(x)))))


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


@layer_cases(
    LayerCase(
        lambda: TransformerEncoder(TransformerEncoderLayer(3, 1, **_TINY), 2, LayerNorm(3)),
        [(2, 1, 3)],
        avoid=(0.0,),
    ),
)
@layer_errors(
    ErrorCase(
        lambda: TransformerEncoder(Linear(2, 2), 2), TypeError, r"TransformerEncoder: encoder_layer"
    )
)
class TransformerEncoder(Module):
    """`num_layers` deep copies of `encoder_layer` applied in turn, then `norm` if given.

    `forward(src, mask=None, src_key_padding_mask=None, is_causal=None)`.
    """

    def __init__(
        self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        if not isinstance(encoder_layer, TransformerEncoderLayer):
            raise TypeError(
                "TransformerEncoder: encoder_layer must be a TransformerEncoderLayer, got "
                f"{type(encoder_layer).__name__}"
            )
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self, src: Tensor, mask=None, src_key_padding_mask=None, is_causal: bool | None = None
    ) -> Tensor:
        x = src
        for layer in self.layers:
            x = layer(x, mask, src_key_padding_mask, bool(is_causal))
        return x if self.norm is None else self.norm(x)


@layer_cases(
    LayerCase(
        lambda: TransformerDecoder(TransformerDecoderLayer(3, 1, **_TINY), 2, LayerNorm(3)),
        [(2, 1, 3), (2, 1, 3)],
        avoid=(0.0,),
    ),
)
@layer_errors(
    ErrorCase(
        lambda: TransformerDecoder(Linear(2, 2), 2), TypeError, r"TransformerDecoder: decoder_layer"
    )
)
class TransformerDecoder(Module):
    """`num_layers` deep copies of `decoder_layer` applied in turn, then `norm` if given.

    `forward(tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)`.
    """

    def __init__(
        self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm: Module | None = None
    ) -> None:
        super().__init__()
        if not isinstance(decoder_layer, TransformerDecoderLayer):
            raise TypeError(
                "TransformerDecoder: decoder_layer must be a TransformerDecoderLayer, got "
                f"{type(decoder_layer).__name__}"
            )
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask=None,
        memory_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        x = tgt
        for layer in self.layers:
            x = layer(
                x, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
                bool(tgt_is_causal), memory_is_causal,
            )  # fmt: skip
        return x if self.norm is None else self.norm(x)


@layer_cases(
    LayerCase(
        lambda: Transformer(3, 1, 1, 1, 2, 0.0),
        [(2, 1, 3), (2, 1, 3)],
        avoid=(0.0,),
    ),
)
@layer_errors(
    ErrorCase(
        lambda: Transformer(4, 2, 1, 1, 6, 0.0, batch_first=True)(
            Tensor(np.ones((2, 3, 4))), Tensor(np.ones((3, 2, 4)))
        ),
        ValueError,
        r"Transformer: src and tgt must have the same batch size, got 2 and 3",
    )
)
class Transformer(Module):
    """The encoder-decoder transformer (Vaswani et al. 2017): `encoder` (layers + final
    LayerNorm) over `src`, `decoder` (layers + final LayerNorm) over `tgt` and the memory.
    Parameters with more than one dim are xavier_uniform, as PyTorch.

    `forward(src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)`.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str | Callable = "relu",
        custom_encoder: Module | None = None,
        custom_decoder: Module | None = None,
        layer_norm_eps: float = 1e-5,
        batch_first: bool = False,
        norm_first: bool = False,
        bias: bool = True,
        dtype=None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps)
        kw = {"batch_first": batch_first, "norm_first": norm_first, "bias": bias, "dtype": dtype}
        if custom_encoder is None:
            layer = TransformerEncoderLayer(*args, **kw, generator=generator)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            custom_encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is None:
            layer = TransformerDecoderLayer(*args, **kw, generator=generator)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            custom_decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self.encoder, self.decoder = custom_encoder, custom_decoder
        self.d_model, self.nhead, self.batch_first = d_model, nhead, batch_first
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p, generator=generator)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, dtype=None) -> Tensor:
        """(sz, sz) additive causal mask: 0 on and below the diagonal, -inf above."""
        dt = STATE.default_float if dtype is None else np.dtype(dtype)
        return Tensor(np.triu(np.full((sz, sz), -np.inf, dt), 1))

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask=None,
        tgt_mask=None,
        memory_mask=None,
        src_key_padding_mask=None,
        tgt_key_padding_mask=None,
        memory_key_padding_mask=None,
        src_is_causal: bool | None = None,
        tgt_is_causal: bool | None = None,
        memory_is_causal: bool = False,
    ) -> Tensor:
        axis = 0 if self.batch_first else 1
        if src.ndim == 3 and tgt.ndim == 3 and src.shape[axis] != tgt.shape[axis]:
            raise ValueError(
                f"{self.describe()}: src and tgt must have the same batch size, got "
                f"{src.shape[axis]} and {tgt.shape[axis]}"
            )
        memory = self.encoder(src, src_mask, src_key_padding_mask, src_is_causal)
        return self.decoder(
            tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask,
            tgt_is_causal, memory_is_causal,
        )  # fmt: skip
