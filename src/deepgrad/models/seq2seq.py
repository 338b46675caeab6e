"""A recurrent encoder-decoder with attention (Sutskever et al. 2014; Bahdanau et al. 2015;
Luong et al. 2015), trained with a teacher-forcing ratio, decoded greedily or by beam search.

Tokens are integers; `bos` starts every decoded sequence and `eos` ends it.  The
encoder is an embedding and a (bidirectional) GRU or LSTM over the source; the
decoder is an embedding and a GRU or LSTM cell whose input is the previous token's
embedding and the previous attention context; the output layer sees the new state
and the new context (Bahdanau's additive scoring, or Luong's dot product).
"""

from __future__ import annotations

import numpy as np

from ..core.random import _gen
from ..core.state import no_grad
from ..core.tensor import Tensor
from ..nn import GRU, LSTM, AdditiveAttention, Embedding, GRUCell, Linear, LSTMCell, Module
from ..nn import functional as F
from ..ops import elementwise as E
from ..ops.linalg import matmul
from ..ops.shape import concatenate, stack

__all__ = ["Seq2Seq"]


class Seq2Seq(Module):
    """Encoder-decoder with attention: $p(y_t | y_{<t}, x) = \\mathrm{softmax}(W [s_t; c_t])$,
    $s_t = \\mathrm{cell}([E y_{t-1}; c_{t-1}], s_{t-1})$, $c_t = \\sum_j a_{tj} h_j$, with
    $a_t$ the attention of $s_t$ over the encoder states $h_j$.

    `forward(src (N, S), tgt (N, T), teacher_forcing_ratio=1.0, src_mask=None)` returns
    logits (N, T, V) for the targets y_1..y_T (the decoder reads bos, y_1, ..., y_{T-1},
    or its own previous prediction with probability 1 - ratio).
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        embed_dim: int = 32,
        hidden_size: int = 64,
        cell: str = "gru",
        attention: str = "additive",
        bos: int = 1,
        eos: int = 2,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if cell not in ("gru", "lstm") or attention not in ("additive", "dot"):
            raise ValueError(
                f"Seq2Seq: cell must be 'gru' or 'lstm' and attention 'additive' or 'dot', got "
                f"{cell!r} and {attention!r}"
            )
        kw = {"generator": generator}
        self.cell_kind, self.attention_kind = cell, attention
        self.hidden_size, self.bos, self.eos, self.tgt_vocab = hidden_size, bos, eos, tgt_vocab
        self.src_embed = Embedding(src_vocab, embed_dim, **kw)
        rnn = GRU if cell == "gru" else LSTM
        self.encoder = rnn(embed_dim, hidden_size // 2, batch_first=True, bidirectional=True, **kw)
        self.tgt_embed = Embedding(tgt_vocab, embed_dim, **kw)
        cell_cls = GRUCell if cell == "gru" else LSTMCell
        self.decoder = cell_cls(embed_dim + hidden_size, hidden_size, **kw)
        if attention == "additive":
            self.attn = AdditiveAttention(hidden_size, hidden_size, hidden_size, **kw)
        self.out = Linear(2 * hidden_size, tgt_vocab, **kw)

    # -- pieces ----------------------------------------------------------------------------
    def encode(self, src, src_mask=None) -> tuple[Tensor, tuple]:
        """Encoder states (N, S, H) and the decoder's initial state (both directions' last)."""
        src = np.asarray(src._data if isinstance(src, Tensor) else src)
        if src.ndim != 2:
            raise ValueError(f"Seq2Seq.encode: src must be (N, S) token ids, got {src.shape}")
        mask = None if src_mask is None else np.asarray(src_mask, dtype=bool)
        out, state = self.encoder(self.src_embed(src), mask=mask)
        h = state[0] if self.cell_kind == "lstm" else state
        s0 = concatenate([h[0], h[1]], -1)
        if self.cell_kind == "lstm":
            c = state[1]
            return out, (s0, concatenate([c[0], c[1]], -1))
        return out, (s0,)

    def _attend(self, s: Tensor, memory: Tensor, mask) -> tuple[Tensor, Tensor]:
        if self.attention_kind == "additive":
            return self.attn(s, memory, mask=mask)
        n, length = memory.shape[0], memory.shape[1]
        scores = matmul(memory, s.reshape(n, -1, 1)).reshape(n, length)
        if mask is not None:
            scores = E.where(mask, scores, -np.inf)
        w = F.softmax(scores, -1)
        return matmul(w.reshape(n, 1, length), memory).reshape(n, -1), w

    def step(self, tokens, state: tuple, context: Tensor, memory: Tensor, mask=None):
        """One decoder step: (logits (B, V), new state, new context, attention (B, S))."""
        x = concatenate([self.tgt_embed(tokens), context], -1)
        if self.cell_kind == "lstm":
            state = self.decoder(x, state)
        else:
            state = (self.decoder(x, state[0]),)
        context, weights = self._attend(state[0], memory, mask)
        logits = self.out(concatenate([state[0], context], -1))
        return logits, state, context, weights

    def _start(self, src, src_mask):
        memory, state = self.encode(src, src_mask)
        mask = None if src_mask is None else np.asarray(src_mask, dtype=bool)
        context = Tensor(np.zeros((memory.shape[0], self.hidden_size), memory.dtype))
        return memory, state, context, mask

    # -- training --------------------------------------------------------------------------
    def forward(
        self,
        src,
        tgt,
        teacher_forcing_ratio: float = 1.0,
        src_mask=None,
        generator: np.random.Generator | None = None,
    ) -> Tensor:
        tgt = np.asarray(tgt._data if isinstance(tgt, Tensor) else tgt)
        if tgt.ndim != 2:
            raise ValueError(f"Seq2Seq: tgt must be (N, T) token ids, got {tgt.shape}")
        rng = _gen(generator)  # deepgrad's default generator unless one is given
        memory, state, context, mask = self._start(src, src_mask)
        tokens = np.full(tgt.shape[0], self.bos)
        logits = []
        for t in range(tgt.shape[1]):
            out, state, context, _ = self.step(tokens, state, context, memory, mask)
            logits.append(out)
            teach = teacher_forcing_ratio >= 1.0 or rng.random() < teacher_forcing_ratio
            tokens = tgt[:, t] if teach else out._data.argmax(-1)
        return stack(logits, 1)

    # -- decoding --------------------------------------------------------------------------
    def greedy_decode(self, src, max_len: int, src_mask=None) -> tuple[np.ndarray, np.ndarray]:
        """Argmax tokens (N, max_len) (after eos: eos) and attention maps (N, max_len, S)."""
        with no_grad():
            memory, state, context, mask = self._start(src, src_mask)
            n = memory.shape[0]
            tokens = np.full(n, self.bos)
            done = np.zeros(n, bool)
            out_tokens, maps = [], []
            for _ in range(max_len):
                logits, state, context, w = self.step(tokens, state, context, memory, mask)
                tokens = np.where(done, self.eos, logits._data.argmax(-1))
                done |= tokens == self.eos
                out_tokens.append(tokens)
                maps.append(w._data)
                if done.all():
                    break
        return np.stack(out_tokens, 1), np.stack(maps, 1)

    def beam_search(
        self, src, beam_size: int, max_len: int, length_penalty: float = 1.0
    ) -> list[list[int]]:
        """Beam search per source sequence: keep the `beam_size` best partial outputs by
        total log-probability; a finished hypothesis (ending in eos) scores
        $\\log p / |y|^{\\alpha}$ with $\\alpha$ = `length_penalty` (0: no normalisation).
        Returns the best token list (eos included when produced) for each source."""
        if beam_size < 1:
            raise ValueError(f"Seq2Seq.beam_search: beam_size must be >= 1, got {beam_size}")
        src = np.asarray(src._data if isinstance(src, Tensor) else src)
        with no_grad():
            return [self._beam_one(src[i : i + 1], beam_size, max_len, length_penalty)
                    for i in range(src.shape[0])]  # fmt: skip

    def _beam_one(self, src, beam: int, max_len: int, alpha: float) -> list[int]:
        memory, state, context, _ = self._start(src, None)
        scores, seqs = np.zeros(1), [[]]
        finished: list[tuple[float, list[int]]] = []
        for _ in range(max_len):
            b = len(seqs)
            tokens = np.array([s[-1] if s else self.bos for s in seqs])
            mem = Tensor(np.repeat(memory._data, b, 0))  # memory is (1, S, H)
            logits, state, context, _ = self.step(tokens, state, context, mem, None)
            logp = F.log_softmax(logits, -1)._data + scores[:, None]
            flat = np.argsort(-logp, axis=None, kind="stable")[: 2 * beam]
            keep_rows, keep_seqs, keep_scores = [], [], []
            for idx in flat:
                row, tok = divmod(int(idx), self.tgt_vocab)
                seq = seqs[row] + [tok]
                if tok == self.eos:
                    finished.append((logp[row, tok] / max(len(seq), 1) ** alpha, seq))
                else:
                    keep_rows.append(row)
                    keep_seqs.append(seq)
                    keep_scores.append(logp[row, tok])
                if len(keep_seqs) == beam:
                    break
            if len(finished) >= beam or not keep_seqs:
                break
            rows = np.array(keep_rows)
            state = tuple(Tensor(s._data[rows]) for s in state)
            context = Tensor(context._data[rows])
            seqs, scores = keep_seqs, np.array(keep_scores)
        if not finished:
            finished = [(s / max(len(q), 1) ** alpha, q) for s, q in zip(scores, seqs)]
        return max(finished, key=lambda f: f[0])[1]

    def extra_repr(self) -> str:
        kinds = f"cell={self.cell_kind!r}, attention={self.attention_kind!r}"
        return f"{kinds}, bos={self.bos}, eos={self.eos}"
