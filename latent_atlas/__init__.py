"""latent-atlas: neural radiance fields in RGB or autoencoder latent space."""

__version__ = "0.1.0"
