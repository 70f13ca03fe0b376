import json
import math

import pytest
import torch

from latent_atlas.data.loading import load_scene
from latent_atlas.data.synth.families import make_scene
from latent_atlas.data.synth.raytrace import bounding_sphere_span, render_view, render_views, trace
from latent_atlas.data.synth.sdf import Primitive, bounding_radius, primitive_sdf
from latent_atlas.data.synth.writer import OBJECT_RADIUS, TRACE_RADIUS, SynthConfig, hemisphere_cameras, synthesize


def test_primitive_sdfs_hand_computed():
    p = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.allclose(primitive_sdf(p, Primitive("sphere", (0, 0, 0), (0.5,), (1, 1, 1))), torch.tensor([1.5, -0.5]))
    assert torch.allclose(primitive_sdf(p, Primitive("box", (0, 0, 0), (1.0, 1.0, 1.0), (1, 1, 1))), torch.tensor([1.0, -1.0]))
    # torus of radii (1, 0.25) in the xy plane: the point (2, 0, 0) is 1 from the tube centre
    assert torch.allclose(primitive_sdf(p, Primitive("torus", (0, 0, 0), (1.0, 0.25), (1, 1, 1))), torch.tensor([0.75, 0.75]))


def test_family_is_deterministic_and_writes_map(tmp_path):
    cfg = SynthConfig(output=tmp_path / "a", family="cars", num_scenes=2, resolution=16, num_train=3, num_val=1, num_test=1, seed=5, supersample=1)
    folders = synthesize(cfg)
    again = synthesize(SynthConfig(**{**cfg.__dict__, "output": tmp_path / "b", "workers": 2}))  # two processes: the same files
    assert json.loads((tmp_path / "a" / "dataset_map.json").read_text()) == {"cars": ["scene_000", "scene_001"]}
    files = sorted(f.relative_to(tmp_path / "a") for f in (tmp_path / "a").rglob("*") if f.is_file())
    assert len(files) == 2 * 5 + 2 * 5 + 2  # per scene 5 PNGs, 4 transforms files and primitives.json; the map and settings
    assert all((tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes() for f in files)
    a0, b0, a1 = load_scene(folders[0]), load_scene(again[0]), load_scene(folders[1])
    assert torch.equal(a0.split("train").images, b0.split("train").images)
    assert not torch.equal(a0.split("train").images, a1.split("train").images)
    # objects lie inside the radius-0.9 sphere: every alpha pixel's ray passes within it
    alpha = a0.split("train").images[..., 3]
    assert alpha.float().mean() > 5  # something visible
    assert alpha[:, 0, :].max() == 0 and alpha[:, :, 0].max() == 0  # never clipped at the border


def test_resume_keeps_complete_scenes_and_renders_the_rest(tmp_path):
    """--resume: a family grown from 1 to 3 scenes, with scene 1 left half-written by a killed run, ends byte-identical
    to one written at once; scene 0's files are not rewritten; other settings are refused in one line."""
    from latent_atlas.errors import ConfigError, DataError

    settings = dict(family="cars", resolution=16, num_train=2, num_val=1, num_test=1, seed=5, supersample=1)
    synthesize(SynthConfig(output=tmp_path / "whole", num_scenes=3, **settings))
    grown = tmp_path / "grown"
    synthesize(SynthConfig(output=grown, num_scenes=2, **settings))
    (grown / "scene_001" / "primitives.json").unlink()  # killed while writing scene 1
    (grown / "scene_001" / "train" / "r_0.png").write_bytes(b"half a png")
    first = {f: f.stat().st_mtime_ns for f in (grown / "scene_000").rglob("*") if f.is_file()}
    folders = synthesize(SynthConfig(output=grown, num_scenes=3, resume=True, **settings))
    assert [f.name for f in folders] == ["scene_000", "scene_001", "scene_002"]
    assert {f: f.stat().st_mtime_ns for f in first} == first  # kept, not rendered again
    files = sorted(f.relative_to(tmp_path / "whole") for f in (tmp_path / "whole").rglob("*") if f.is_file())
    assert len(files) == 3 * 4 + 3 * 5 + 2
    assert all((tmp_path / "whole" / f).read_bytes() == (grown / f).read_bytes() for f in files)
    with pytest.raises(ConfigError, match=r"synth_config.json was written with other settings \(--resolution 16 there, 32 here\)"):
        synthesize(SynthConfig(output=grown, num_scenes=3, resume=True, **{**settings, "resolution": 32}))
    (grown / "synth_config.json").write_text("{")
    with pytest.raises(DataError, match="synth_config.json: malformed JSON"):
        synthesize(SynthConfig(output=grown, num_scenes=3, resume=True, **settings))
    (grown / "synth_config.json").unlink()
    with pytest.raises(ConfigError, match="synth_config.json not found"):
        synthesize(SynthConfig(output=grown, num_scenes=3, resume=True, **settings))


def test_bounding_sphere_span_hand_computed():
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.0, 2.0, 3.0], [0.0, 0.0, 0.5], [0.0, 0.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0], [0.0, 0.0, -1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    meets, entry, exit = bounding_sphere_span(origins, directions, 1.0)
    # straight at the centre: enters at 3 - 1, leaves at 3 + 1; passes 2 from the centre: misses; starts inside at
    # z = 0.5 going up: enters at 0, leaves at 0.5; points away: misses
    assert meets.tolist() == [True, False, True, False]
    assert torch.allclose(entry[meets], torch.tensor([2.0, 0.0]))
    assert torch.allclose(exit[meets], torch.tensor([4.0, 0.5]))


def test_trace_hits_a_sphere_by_hand_and_stops_misses_at_the_bounding_sphere():
    ball = [Primitive("sphere", (0.0, 0.0, 0.0), (0.5,), (1.0, 1.0, 1.0))]
    origins = torch.tensor([[0.0, 0.0, 3.0], [0.0, 0.4, 3.0], [0.0, 0.8, 3.0], [0.0, 3.0, 3.0]])
    directions = torch.tensor([[0.0, 0.0, -1.0]]).expand(4, 3)
    hit, t = trace(origins, directions, ball, scale=1.0, radius=1.0)
    # at the centre: the surface at 3 - 0.5; 0.4 off the axis: at 3 - sqrt(0.25 - 0.16) = 2.7; 0.8 off: passes by
    assert hit.tolist() == [True, True, False, False]
    assert torch.allclose(t[:2], torch.tensor([2.5, 2.7]), atol=1e-4)
    # the miss marches until it leaves the unit sphere (at 3 + 0.6), not on to `far`
    assert 3.6 <= float(t[2]) < 3.6 + 0.5  # its last step is at most the 0.5 to the ball
    no_sphere_hit, no_sphere_t = trace(origins, directions, ball, scale=1.0)
    assert no_sphere_hit.tolist() == hit.tolist() and float(no_sphere_t[2]) > 6.0


def test_batched_views_with_bounding_sphere_match_single_views():
    g = torch.Generator().manual_seed(3)
    prims = make_scene("cars", g)
    scale = OBJECT_RADIUS / bounding_radius(prims)
    cams = hemisphere_cameras(3, 16, torch.Generator().manual_seed(4))
    batched = render_views(cams, prims, scale, supersample=1, radius=TRACE_RADIUS)  # [3, 16, 16, 4]
    single = torch.stack([render_view(cams, i, prims, scale, supersample=1) for i in range(3)])
    assert batched.shape == (3, 16, 16, 4) and batched[..., 3].sum() > 20
    # the same image up to grazing rays (a few pixels at silhouettes may converge differently)
    differs = (batched - single).abs().amax(dim=-1) > 2e-3
    assert differs.float().mean() < 0.01


def test_patterns_and_highlight_by_hand():
    from latent_atlas.data.synth.appearance import albedo, highlight, mosaic_texture

    prim = Primitive("sphere", (0.0, 0.0, 0.0), (0.5,), (1.0, 0.0, 0.0), pattern="checker", color2=(0.0, 0.0, 1.0), pattern_scale=2.0)
    points = torch.tensor([[0.1, 0.1, 0.1], [0.6, 0.1, 0.1], [0.6, 0.6, 0.1]])  # cells (0,0,0), (1,0,0), (1,1,0)
    assert albedo(points, prim, 1.0).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    texture = mosaic_texture(3)
    assert texture.shape == (32, 32, 3) and torch.equal(texture, mosaic_texture(3)) and texture.std() > 0.1
    normal, light = torch.tensor([[0.0, 0.0, 1.0]]), torch.tensor([0.0, 0.0, 1.0])
    # looking straight down at a surface lit from above: the halfway vector is the normal, full strength
    assert highlight(normal, torch.tensor([[0.0, 0.0, -1.0]]), light, torch.tensor([0.5])).item() == 0.5
    grazing = highlight(normal, torch.tensor([[1.0, 0.0, 0.0]]), light, torch.tensor([0.5])).item()
    assert grazing == pytest.approx(0.5 * math.cos(math.pi / 4) ** 32)


@pytest.mark.parametrize("family", ["textured", "thin", "mixed"])
def test_new_families_fit_the_frame_and_are_deterministic(tmp_path, family):
    cfg = SynthConfig(output=tmp_path / "a", family=family, num_scenes=3, resolution=24, num_train=4, num_val=1, num_test=1, seed=2, supersample=1)
    folders = synthesize(cfg)
    again = synthesize(SynthConfig(**{**cfg.__dict__, "output": tmp_path / "b", "num_scenes": 1}))
    assert torch.equal(load_scene(folders[0]).split("train").images, load_scene(again[0]).split("train").images)
    for folder in folders:
        images = load_scene(folder).split("train").images
        alpha = images[..., 3]
        if alpha.min() == 255:  # a mixed scene with surroundings: opaque
            continue
        assert alpha.float().mean() > 2  # something visible
        assert alpha[:, 0, :].max() == 0 and alpha[:, :, 0].max() == 0  # thin parts are not clipped at the border


@pytest.mark.gpu
@pytest.mark.parametrize("family", ["cars", "mixed"])
def test_cuda_tracing_matches_the_cpu(family):
    g = torch.Generator().manual_seed(11)
    prims = make_scene(family, g)  # mixed: patterns, mosaic textures and highlights too
    scale = OBJECT_RADIUS / bounding_radius(prims)
    cams = hemisphere_cameras(4, 32, torch.Generator().manual_seed(12))
    cpu = render_views(cams, prims, scale, radius=TRACE_RADIUS, sky=True)
    cuda = render_views(cams, prims, scale, radius=TRACE_RADIUS, sky=True, device="cuda")
    assert cuda.device.type == "cpu" and cuda.shape == cpu.shape == (4, 32, 32, 4)
    differs = (cuda - cpu).abs().amax(dim=-1) > 2e-3  # float rounding can move a grazing ray at a silhouette
    assert differs.float().mean() < 0.01


@pytest.mark.skipif(torch.cuda.is_available(), reason="the error is for machines without CUDA")
def test_cuda_tracing_without_cuda_is_a_config_error(tmp_path):
    from latent_atlas.errors import ConfigError

    with pytest.raises(ConfigError, match="--device cuda: CUDA is not available"):
        synthesize(SynthConfig(output=tmp_path, num_scenes=1, resolution=8, num_train=1, device="cuda"))
    assert not (tmp_path / "scene_000").exists()
