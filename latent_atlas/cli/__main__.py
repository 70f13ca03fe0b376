from latent_atlas.cli.main import entrypoint

entrypoint()
