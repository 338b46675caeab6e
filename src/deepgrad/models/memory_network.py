"""End-to-end memory network (Sukhbaatar et al. 2015) for question answering over a story."""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from ..nn import Embedding, KeyValueMemory, Linear, Module
from ..ops.reduce import sum as _sum

__all__ = ["MemN2N"]


class MemN2N(Module):
    """Sentences as bags of words: keys $k_i = \\sum_j A x_{ij}$, values $v_i = \\sum_j C x_{ij}$,
    question $u = \\sum_j B q_j$; `hops` reads of the key-value memory; answer logits
    $W u$.  Token 0 is padding (its embeddings stay zero).

    `forward(story (N, M, L), question (N, L))` returns `(logits (N, V), attention
    (N, hops, M))`; empty sentences (all padding) are masked out.
    """

    def __init__(
        self,
        vocab: int,
        dim: int = 32,
        hops: int = 3,
        answers: int | None = None,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        kw = {"padding_idx": 0, "generator": generator}
        self.key_embed, self.value_embed = Embedding(vocab, dim, **kw), Embedding(vocab, dim, **kw)
        self.query_embed = Embedding(vocab, dim, **kw)
        for e in (self.key_embed, self.value_embed, self.query_embed):
            e.weight._data *= 0.1  # N(0, 0.1^2) as the paper
        self.memory = KeyValueMemory(dim, hops, generator=generator)
        self.answer = Linear(dim, answers or vocab, generator=generator)

    def forward(self, story, question) -> tuple[Tensor, Tensor]:
        story = np.asarray(story._data if isinstance(story, Tensor) else story)
        question = np.asarray(question._data if isinstance(question, Tensor) else question)
        if story.ndim != 3 or question.ndim != 2 or story.shape[0] != question.shape[0]:
            raise ValueError(
                f"MemN2N: story must be (N, M, L) and question (N, L) token ids, got "
                f"{story.shape} and {question.shape}"
            )
        keys = _sum(self.key_embed(story), 2)
        values = _sum(self.value_embed(story), 2)
        u = _sum(self.query_embed(question), 1)
        u, attention = self.memory(u, keys, values, mask=(story != 0).any(-1))
        return self.answer(u), attention
