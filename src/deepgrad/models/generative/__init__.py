"""`deepgrad.models.generative`: autoencoders, VAEs, GANs (DCGAN, conditional, CycleGAN) and
autoregressive models (PixelCNN, WaveNet), built on `deepgrad.distributions` and `nn`."""

from .autoencoder import (
    Autoencoder,
    ConvAutoencoder,
    gaussian_noise,
    greedy_layerwise_pretrain,
    kl_sparsity_penalty,
    l1_code_penalty,
    masking_noise,
    reconstruction_loss,
    train_autoencoder,
)
from .autoregressive import PixelCNN, WaveNet
from .cyclegan import CycleGAN, CycleGenerator, PatchDiscriminator
from .gan import (
    DCGANDiscriminator,
    DCGANGenerator,
    GANTrainer,
    MLPDiscriminator,
    MLPGenerator,
    discriminator_loss,
    generator_loss,
)
from .spectral import SpectralNorm
from .toy2d import mode_coverage, ring_centres, ring_of_gaussians
from .vae import VAE, ConditionalVAE

__all__ = [
    "VAE", "Autoencoder", "ConditionalVAE", "ConvAutoencoder", "CycleGAN", "CycleGenerator",
    "DCGANDiscriminator", "DCGANGenerator", "GANTrainer", "MLPDiscriminator", "MLPGenerator",
    "PatchDiscriminator", "PixelCNN", "SpectralNorm", "WaveNet", "discriminator_loss",
    "gaussian_noise", "generator_loss", "greedy_layerwise_pretrain", "kl_sparsity_penalty",
    "l1_code_penalty", "masking_noise", "mode_coverage", "reconstruction_loss", "ring_centres",
    "ring_of_gaussians", "train_autoencoder",
]  # fmt: skip
