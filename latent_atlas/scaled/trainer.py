"""Compatibility name of the many-scene task (latent_atlas.tasks.multi_scene)."""

from latent_atlas.tasks.multi_scene import MultiSceneTask as MultiSceneTrainer  # noqa: F401
