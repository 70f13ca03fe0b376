import json

import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.data.synth.sdf import Primitive, primitive_sdf
from latent_atlas.data.synth.writer import SynthConfig, synthesize


def test_primitive_sdfs_hand_computed():
    p = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(primitive_sdf(p, Primitive("sphere", (0, 0, 0), (0.5,), (1, 1, 1))), torch.tensor([1.5, -0.5]))
    assert torch.allclose(primitive_sdf(p, Primitive("box", (0, 0, 0), (1.0, 1.0, 1.0), (1, 1, 1))), torch.tensor([1.0, -1.0]))
    # torus of radii (1, 0.25) in the xy plane: the point (2, 0, 0) is 1 from the tube centre
    assert torch.allclose(primitive_sdf(p, Primitive("torus", (0, 0, 0), (1.0, 0.25), (1, 1, 1))), torch.tensor([0.75, 0.75]))


def test_family_is_deterministic_and_writes_map(tmp_path):
    cfg = SynthConfig(output=tmp_path / "a", family="cars", num_scenes=2, resolution=16, num_train=3, num_val=1, num_test=1, seed=5, supersample=1)
    folders = synthesize(cfg)
    again = synthesize(SynthConfig(**{**cfg.__dict__, "output": tmp_path / "b"}))
    assert json.loads((tmp_path / "a" / "dataset_map.json").read_text()) == {"cars": ["scene_000", "scene_001"]}
    a0, b0, a1 = load_scene(folders[0]), load_scene(again[0]), load_scene(folders[1])
    assert torch.equal(a0.split("train").images, b0.split("train").images)
    assert not torch.equal(a0.split("train").images, a1.split("train").images)
    # objects lie inside the radius-0.9 sphere: every alpha pixel's ray passes within it
    alpha = a0.split("train").images[..., 3]
    assert alpha.float().mean() > 5  # something visible
    assert alpha[:, 0, :].max() == 0 and alpha[:, :, 0].max() == 0  # never clipped at the border
