import torch

from latent_atlas.cameras import RayBundle
from latent_atlas.rendering.marching import march_samples, render_marched


def _rays(n: int) -> RayBundle:
    origins = torch.zeros(n, 3)
    directions = torch.tensor([[0.0, 0.0, 1.0]]).expand(n, 3)
    return RayBundle(origins, directions, torch.zeros(n, 1), torch.full((n, 1), 2.0))


def _render(density: float, unshaded: torch.Tensor | None, calls: list[int]):
    rays = _rays(3)
    t, valid = march_samples(rays.near[:, 0], rays.far[:, 0], 0.01, 1000, jitter=False)

    def color_fn(points, directions, features):
        calls.append(points.shape[0])
        return torch.full((points.shape[0], 2), 0.25)

    return render_marched(
        rays,
        t,
        valid,
        0.01,
        lambda p: (torch.full((p.shape[0],), density), None),
        color_fn,
        channels=2,
        background=torch.tensor([[0.9, 0.1]]).expand(3, 2),
        unshaded_color=unshaded,
    )


def test_unshaded_samples_take_the_given_colour_and_skip_the_colour_network():
    calls: list[int] = []
    unshaded = torch.tensor([0.6, 0.4])
    out = _render(5e-3, unshaded, calls)  # every weight ~5e-5 < 1e-4: nothing is shaded
    assert calls == []
    acc = out["acc"]
    assert 0.005 < float(acc[0]) < 0.05
    expected = acc * unshaded + (1 - acc) * torch.tensor([0.9, 0.1])
    torch.testing.assert_close(out["color"], expected, atol=1e-6, rtol=0)


def test_shaded_samples_use_the_colour_network_and_default_unshaded_is_zero():
    calls: list[int] = []
    out = _render(5e-3, None, calls)
    acc = out["acc"]
    torch.testing.assert_close(out["color"], (1 - acc) * torch.tensor([0.9, 0.1]), atol=1e-6, rtol=0)
    out = _render(5.0, torch.tensor([0.6, 0.4]), calls)  # opaque: the weights above the threshold are shaded
    assert calls and calls[0] > 0
    torch.testing.assert_close(out["color"], torch.full((3, 2), 0.25), atol=2e-3, rtol=0)
