"""Variational autoencoders (Kingma & Welling 2014), beta-VAE and the conditional VAE.

The encoder outputs a diagonal Gaussian $q(z|x) = \\mathcal N(\\mu(x), \\mathrm{diag}\\,\\sigma^2(x))$,
the decoder a Bernoulli or Gaussian $p(x|z)$, the prior is $\\mathcal N(0, I)$.  Training
maximises the ELBO $\\mathbb E_q[\\log p(x|z)] - \\beta\\, KL(q(z|x) \\| p(z)) \\le \\log p(x)$
with $z = \\mu + \\sigma\\epsilon$ (reparameterisation).  Conditioning on a class (Sohn et al.
2015) appends its one-hot code to the encoder's and the decoder's inputs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ... import nn
from ...core.tensor import Tensor
from ...distributions import Bernoulli, Independent, Normal, kl_divergence
from ...ops.elementwise import exp
from ...ops.reduce import logsumexp
from ...ops.shape import reshape
from ._layers import mlp, with_labels

__all__ = ["VAE", "ConditionalVAE"]


class VAE(nn.Module):
    """MLP VAE: encoder `input_dim -> hidden -> (mu, log sigma^2)` of `latent_dim`, decoder
    `latent_dim -> hidden -> input_dim` (Bernoulli logits, or Gaussian means with a learned
    per-pixel log-scale).  `num_classes > 0` makes it conditional (pass `y` everywhere)."""

    def __init__(
        self, input_dim: int = 784, hidden: int = 400, latent_dim: int = 20,
        decoder: str = "bernoulli", num_classes: int = 0,
        generator: np.random.Generator | None = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if decoder not in ("bernoulli", "gaussian"):
            raise ValueError(f"VAE: decoder must be 'bernoulli' or 'gaussian', got {decoder!r}")
        if min(input_dim, hidden, latent_dim) < 1 or num_classes < 0:
            raise ValueError(
                f"VAE: sizes must be positive, got input_dim={input_dim}, hidden={hidden}, "
                f"latent_dim={latent_dim}, num_classes={num_classes}"
            )
        self.input_dim, self.latent_dim, self.num_classes = input_dim, latent_dim, num_classes
        self.decoder_kind = decoder
        g = generator
        self.encoder = mlp([input_dim + num_classes, hidden], "relu", "relu", g)
        self.to_mu = nn.Linear(hidden, latent_dim, generator=g)
        self.to_logvar = nn.Linear(hidden, latent_dim, generator=g)
        self.decoder = mlp([latent_dim + num_classes, hidden, input_dim], "relu", None, g)
        if decoder == "gaussian":
            self.log_scale = nn.Parameter(np.full(input_dim, -1.0, dtype=self.to_mu.weight.dtype))

    def _flat(self, x: Any) -> Tensor:
        x = x if isinstance(x, Tensor) else Tensor(np.asarray(x, dtype=self.to_mu.weight.dtype))
        if x.ndim < 2 or math.prod(x.shape[1:]) != self.input_dim:
            raise ValueError(f"VAE expects input (N, {self.input_dim}) (or images of that size), "
                             f"got {x.shape}")  # fmt: skip
        return reshape(x, (x.shape[0], self.input_dim))

    def posterior(self, x: Any, y: Any = None) -> Independent:
        """$q(z|x[,y]) = \\mathcal N(\\mu, \\mathrm{diag}\\, e^{\\log\\sigma^2})$, event shape (latent_dim,)."""
        h = self.encoder(with_labels(self._flat(x), y, self.num_classes))
        return Independent(Normal(self.to_mu(h), exp(0.5 * self.to_logvar(h))), 1)

    def prior(self, n: int) -> Independent:
        """$p(z) = \\mathcal N(0, I)$ for a batch of n."""
        dt = self.to_mu.weight.dtype
        zeros = np.zeros((n, self.latent_dim), dt)
        return Independent(Normal(Tensor(zeros), Tensor(np.ones_like(zeros))), 1)

    def likelihood(self, z: Tensor, y: Any = None) -> Independent:
        """$p(x|z[,y])$: Bernoulli(logits) (relaxed: x may be grey levels) or Gaussian."""
        out = self.decoder(with_labels(z, y, self.num_classes))
        if self.decoder_kind == "bernoulli":
            return Independent(Bernoulli(logits=out, validate_args=False), 1)
        scale = exp(self.log_scale) + 1e-3
        return Independent(Normal(out, scale * Tensor(np.ones(out.shape, out.dtype))), 1)

    def forward(self, x: Any, y: Any = None, generator: np.random.Generator | None = None):
        """(reconstruction mean, q(z|x)) for one reparameterised z."""
        q = self.posterior(x, y)
        return self.likelihood(q.rsample(generator=generator), y).mean, q

    def elbo(
        self, x: Any, y: Any = None, generator: np.random.Generator | None = None,
        beta: float = 1.0, kl: str = "analytic", samples: int = 1,
    ) -> dict[str, Tensor]:  # fmt: skip
        """Per-example ELBO and its terms (keys `elbo`, `reconstruction`, `kl`).

        $\\mathrm{ELBO} = \\frac1S \\sum_s \\log p(x|z_s) - \\beta\\, KL$, $z_s = \\mu + \\sigma\\epsilon_s$.
        `kl='analytic'` uses the closed form; `'mc'` the estimate $\\log q(z_s|x) - \\log p(z_s)$.
        """
        if kl not in ("analytic", "mc"):
            raise ValueError(f"VAE.elbo: kl must be 'analytic' or 'mc', got {kl!r}")
        if samples < 1:
            raise ValueError(f"VAE.elbo: samples must be >= 1, got {samples}")
        xf = self._flat(x)
        q, p = self.posterior(xf, y), self.prior(xf.shape[0])
        rec, kl_mc = 0.0, 0.0
        for _ in range(samples):
            z = q.rsample(generator=generator)
            rec = rec + self.likelihood(z, y).log_prob(xf)
            if kl == "mc":
                kl_mc = kl_mc + q.log_prob(z) - p.log_prob(z)
        rec = rec / samples
        kl_term = kl_divergence(q, p) if kl == "analytic" else kl_mc / samples
        return {"elbo": rec - beta * kl_term, "reconstruction": rec, "kl": kl_term}

    def loss(self, x: Any, y: Any = None, generator: np.random.Generator | None = None,
             beta: float = 1.0, kl: str = "analytic") -> Tensor:  # fmt: skip
        """The negative ELBO averaged over the batch (nats per example)."""
        return -self.elbo(x, y, generator, beta, kl)["elbo"].mean()

    def log_likelihood(
        self, x: Any, y: Any = None, k: int = 100, generator: np.random.Generator | None = None
    ) -> Tensor:
        """Importance-weighted estimate (Burda et al. 2016), a lower bound that tightens with k:
        $\\log p(x) \\approx \\log \\frac1k \\sum_{j=1}^k \\frac{p(x|z_j) p(z_j)}{q(z_j|x)}$, $z_j \\sim q$."""
        if k < 1:
            raise ValueError(f"VAE.log_likelihood: k must be >= 1, got {k}")
        xf = self._flat(x)
        q, p = self.posterior(xf, y), self.prior(xf.shape[0])
        terms = []
        for _ in range(k):
            z = q.sample(generator=generator)
            terms.append(self.likelihood(z, y).log_prob(xf) + p.log_prob(z) - q.log_prob(z))
        stacked = Tensor(np.stack([t._data for t in terms]))
        return logsumexp(stacked, axis=0) - math.log(k)

    def sample(self, n: int, generator: np.random.Generator | None = None, y: Any = None):
        """Decoder means (probabilities for Bernoulli) of n prior draws $z \\sim \\mathcal N(0, I)$."""
        z = self.prior(n).sample(generator=generator)
        return self.likelihood(z, y).mean

    def decode_mean(self, z: Any, y: Any = None) -> Tensor:
        """The decoder mean at given codes (for traversals and 2-D maps)."""
        z = z if isinstance(z, Tensor) else Tensor(np.asarray(z, dtype=self.to_mu.weight.dtype))
        return self.likelihood(z, y).mean


class ConditionalVAE(VAE):
    """A VAE conditioned on a class label y (Sohn et al. 2015): $q(z|x, y)$, $p(x|z, y)$; sample
    a chosen digit with `sample(n, generator, y=labels)`."""

    def __init__(self, num_classes: int = 10, **kwargs: Any) -> None:
        if num_classes < 1:
            raise ValueError(f"ConditionalVAE: num_classes must be >= 1, got {num_classes}")
        super().__init__(num_classes=num_classes, **kwargs)
