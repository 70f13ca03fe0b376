"""Micro-macro composition by hand, and batched multi-scene rendering equal to rendering each scene alone."""

from __future__ import annotations

import torch

from latent_atlas.cameras import RayBundle
from latent_atlas.encodings.micro_macro import compose_planes
from latent_atlas.fields.multi_triplane import MicroMacroConfig, MicroMacroTable, MultiSceneTriPlaneField, PlaneTable
from latent_atlas.fields.triplane_field import TriPlaneFieldConfig
from latent_atlas.rendering.field_rendering import render_coarse_to_fine


def test_micro_macro_against_hand_computation():
    g = torch.Generator().manual_seed(0)
    micro = torch.randn(2, 3, 2, 4, 4, generator=g)
    macro = torch.randn(3, 3, 5, 4, 4, generator=g)
    w = torch.randn(2, 3, generator=g)
    b = torch.randn(2, 5, generator=g)
    out = compose_planes(micro, w, b, macro, "concat")
    assert out.shape == (2, 3, 7, 4, 4)
    for s in range(2):
        for p in range(3):
            for c in range(5):
                for y in range(4):
                    for x in range(4):
                        hand = sum(float(w[s, m]) * float(macro[m, p, c, y, x]) for m in range(3)) + float(b[s, c])
                        assert abs(float(out[s, p, 2 + c, y, x]) - hand) < 1e-5
    torch.testing.assert_close(out[:, :, :2], micro)
    summed = compose_planes(torch.randn(2, 3, 5, 4, 4, generator=g), w, b, macro, "sum")
    assert summed.shape == (2, 3, 5, 4, 4)


def test_reference_sizes_per_scene():
    """DESIGN.md: about 123K parameters per scene with micro-macro planes instead of 393K."""
    table = MicroMacroTable(1, MicroMacroConfig(), resolution=64)
    per_scene = sum(p.numel() for p in table.scene_parameters())
    assert 122_000 < per_scene < 124_000 and table.channels == 32
    assert sum(p.numel() for p in PlaneTable(1, 32, 64, 0.1).scene_parameters()) == 393_216


def _rays(n: int, seed: int) -> RayBundle:
    g = torch.Generator().manual_seed(seed)
    origins = torch.randn(n, 3, generator=g)
    origins = 1.5 * origins / origins.norm(dim=-1, keepdim=True)
    directions = -origins / origins.norm(dim=-1, keepdim=True) + 0.1 * torch.randn(n, 3, generator=g)
    directions = directions / directions.norm(dim=-1, keepdim=True)
    return RayBundle(origins, directions, torch.full((n, 1), 0.5), torch.full((n, 1), 2.1))


def test_batched_scenes_render_like_each_scene_alone():
    torch.manual_seed(0)
    cfg = TriPlaneFieldConfig(plane_channels=8, plane_resolution=16, hidden=16)
    for table in (PlaneTable(5, 8, 16, 0.5), MicroMacroTable(5, MicroMacroConfig(micro_channels=3, macro_channels=5, num_macro=4, init_std=0.5), 16)):
        field = MultiSceneTriPlaneField(table, cfg, channels=4)
        scene_ids = torch.tensor([3, 0, 4])
        per_scene_rays = [_rays(6, seed) for seed in range(3)]
        batched = RayBundle(*(torch.cat([getattr(r, k) for r in per_scene_rays]) for k in ("origins", "directions", "near", "far")))
        torch.manual_seed(1)
        together = render_coarse_to_fine(field.for_scenes(scene_ids), field.for_scenes(scene_ids), batched, torch.ones(4), 12, 12, perturb=False)["color"]
        for i, sid in enumerate(scene_ids):
            alone = render_coarse_to_fine(field.for_scenes(sid[None]), field.for_scenes(sid[None]), per_scene_rays[i], torch.ones(4), 12, 12, perturb=False)[
                "color"
            ]
            torch.testing.assert_close(together[6 * i : 6 * (i + 1)], alone, atol=1e-5, rtol=1e-5)
