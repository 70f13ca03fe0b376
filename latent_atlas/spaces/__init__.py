"""Image spaces (RGB, autoencoder latents) and the autoencoders behind them."""
