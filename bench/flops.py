"""Floating-point operations of each benchmark workload, counted analytically.

Only the matrix products are counted (dense layers, convolutions, recurrent
projections, attention): they are nearly all of the arithmetic, and they are what
the float32 matrix-product peak measures.  Elementwise work (activations, batch
norm, pooling, softmax, the optimizer update) is left out, so a workload's
achieved GFLOP/s is its matrix-product work per second.

Conventions (the same as the peak, 2 n^3 for an n x n product, and as PyTorch's
`torch.utils.flop_counter`):

- an (m x k) @ (k x n) product is 2 m k n operations (one multiply, one add);
- a convolution is the product its im2col lowering does: m = batch x output
  pixels, k = in-channels x kernel area (/ groups), n = out-channels;
- a training step is the forward plus the backward, and the backward of a
  product is two products of the same size, the gradient for the weight (or the
  second operand) and the gradient for the input, except where the input needs
  none (the first layer, whose input is data): 3x the forward, or 2x there.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise


@dataclass(frozen=True)
class Product:
    """One matrix product of the forward pass, (m x k) @ (k x n), run `count` times.

    `input_grad` is False when the backward needs no gradient for the product's
    input (the data entering the first layer).
    """

    name: str
    m: int
    k: int
    n: int
    count: int = 1
    input_grad: bool = True

    @property
    def forward(self) -> int:
        """2 m k n per product, times `count`."""
        return 2 * self.m * self.k * self.n * self.count

    @property
    def training(self) -> int:
        """Forward + weight gradient + input gradient (when the input needs one)."""
        return self.forward * (3 if self.input_grad else 2)


def total(products: list[Product], training: bool = True) -> int:
    """The operations of a whole step: training (forward + backward) or forward only."""
    return sum(p.training if training else p.forward for p in products)


def linear(name: str, batch: int, fin: int, fout: int, input_grad: bool = True) -> Product:
    """A dense layer on (batch, fin): (batch x fin) @ (fin x fout)."""
    return Product(name, batch, fin, fout, input_grad=input_grad)


def conv_out(size: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Output side length of a convolution or pooling window: (size + 2p - k) // s + 1."""
    return (size + 2 * padding - kernel) // stride + 1


def conv2d(
    name: str,
    batch: int,
    cin: int,
    cout: int,
    kernel: int,
    out_hw: tuple[int, int],
    input_grad: bool = True,
) -> Product:
    """A square-kernel convolution as its im2col product:
    (N Ho Wo) x (Cin k k) @ (Cin k k) x Cout."""
    h, w = out_hw
    return Product(name, batch * h * w, cin * kernel * kernel, cout, input_grad=input_grad)


def mlp(batch: int, sizes: tuple[int, ...] = (784, 512, 256, 10)) -> list[Product]:
    """A multilayer perceptron's dense layers; the first layer's input is data."""
    return [
        linear(f"fc{i}", batch, a, b, input_grad=i > 0) for i, (a, b) in enumerate(pairwise(sizes))
    ]


def lenet5(batch: int, classes: int = 10) -> list[Product]:
    """LeNet-5 on 1x28x28: conv 6@5x5 pad 2 (28x28), pool, conv 16@5x5 (10x10), pool,
    FC 400-120-84-classes."""
    return [
        conv2d("conv1", batch, 1, 6, 5, (28, 28), input_grad=False),
        conv2d("conv2", batch, 6, 16, 5, (10, 10)),
        linear("fc1", batch, 400, 120),
        linear("fc2", batch, 120, 84),
        linear("fc3", batch, 84, classes),
    ]


def resnet18(batch: int, height: int, width: int, classes: int = 10) -> list[Product]:
    """torchvision's ResNet-18 (He et al. 2016): a 7x7/2 stem, a 3x3/2 max pool, four
    stages of two BasicBlocks (64, 128, 256, 512 channels; the first block of stages
    2-4 has stride 2 and a 1x1/2 projection shortcut), global pooling, FC."""
    h, w = conv_out(height, 7, 2, 3), conv_out(width, 7, 2, 3)
    out = [conv2d("stem", batch, 3, 64, 7, (h, w), input_grad=False)]
    h, w = conv_out(h, 3, 2, 1), conv_out(w, 3, 2, 1)  # max pool
    cin = 64
    for stage, planes in enumerate((64, 128, 256, 512), start=1):
        for block in range(2):
            stride = 2 if stage > 1 and block == 0 else 1
            ho, wo = conv_out(h, 3, stride, 1), conv_out(w, 3, stride, 1)
            tag = f"layer{stage}.{block}"
            out.append(conv2d(f"{tag}.conv1", batch, cin, planes, 3, (ho, wo)))
            out.append(conv2d(f"{tag}.conv2", batch, planes, planes, 3, (ho, wo)))
            if stride != 1 or cin != planes:
                out.append(conv2d(f"{tag}.downsample", batch, cin, planes, 1, (ho, wo)))
            h, w, cin = ho, wo, planes
    out.append(linear("fc", batch, 512, classes))
    return out


def recurrent(
    gates: int, steps: int, batch: int, inputs: int, hidden: int, head: int = 1
) -> list[Product]:
    """One recurrent layer (LSTM: 4 gates, GRU: 3) over `steps` time steps and a linear
    head on the last hidden state.  Each step projects the input and the previous
    hidden state onto all gates; the input is data and the first step's previous state
    is the constant zero state, so those products need no input gradient."""
    g = gates * hidden
    return [
        Product("input projection", batch, inputs, g, count=steps, input_grad=False),
        Product("hidden projection, step 1", batch, hidden, g, input_grad=False),
        Product("hidden projection", batch, hidden, g, count=steps - 1),
        linear("head", batch, hidden, head),
    ]


def lstm(steps: int, batch: int, inputs: int, hidden: int) -> list[Product]:
    """LSTM (input, forget, cell, output gates) + linear head to 1 output."""
    return recurrent(4, steps, batch, inputs, hidden)


def gru(steps: int, batch: int, inputs: int, hidden: int) -> list[Product]:
    """GRU (reset, update, new gates) + linear head to 1 output."""
    return recurrent(3, steps, batch, inputs, hidden)


def transformer_encoder_layer(
    batch: int, length: int, d_model: int, heads: int, d_ff: int, head: int = 1
) -> list[Product]:
    """TransformerEncoderLayer (Vaswani et al. 2017): Q, K, V projections, per head
    scores Q K^T and weights @ V, the output projection, the two feed-forward layers,
    then a linear head on the mean over positions.  The layer's input is data."""
    tokens, dh, bh = batch * length, d_model // heads, batch * heads
    return [
        linear("qkv projection", tokens, d_model, 3 * d_model, input_grad=False),
        Product("scores Q K^T", length, dh, length, count=bh),
        Product("weights @ V", length, length, dh, count=bh),
        linear("output projection", tokens, d_model, d_model),
        linear("feed-forward 1", tokens, d_model, d_ff),
        linear("feed-forward 2", tokens, d_ff, d_model),
        linear("head", batch, d_model, head),
    ]
