"""Dashboards are readable: labelled panels with metrics, small images upscaled, an error map."""

from __future__ import annotations

import torch

from latent_atlas.spaces.dashboard import MIN_PANEL_HEIGHT, TITLE_HEIGHT, colour_map, latent_dashboard, rgb_dashboard


def test_rgb_dashboard_is_labelled_upscaled_and_shows_the_error():
    generator = torch.Generator().manual_seed(0)
    target = torch.rand(16, 16, 3, generator=generator)
    figure = rgb_dashboard(target.clone(), target, {"metrics_e": {"psnr": 31.5, "ssim": 0.9}})
    panel = MIN_PANEL_HEIGHT // 16 * 16  # 16 px upscaled by a whole factor to >= MIN_PANEL_HEIGHT
    assert figure.shape[0] == TITLE_HEIGHT + panel and figure.shape[1] >= 3 * panel
    title = figure[:TITLE_HEIGHT, :panel]
    assert (title < 0.5).any(), "the first panel's title has no text"
    error = figure[TITLE_HEIGHT:, -panel:]  # identical images: the error map is the colour map's zero everywhere
    torch.testing.assert_close(error, colour_map(torch.zeros(1, 1, 1)).expand_as(error), atol=2 / 255, rtol=0)
    body = figure[TITLE_HEIGHT:, :panel]
    torch.testing.assert_close(body[:: panel // 16, :: panel // 16], target, atol=1 / 255, rtol=0)  # nearest upscale


def test_latent_dashboard_has_images_and_latent_rows():
    rgb = torch.rand(32, 32, 3)
    latent = torch.randn(4, 4, 4)
    groups = {name: {"psnr": 20.0, "ssim": 0.5} for name in ("metrics_e", "metrics_d", "metrics_ae", "metrics_d_ae")}
    figure = latent_dashboard(latent, rgb, rgb, latent, rgb, groups)
    assert figure.shape[0] >= 2 * (TITLE_HEIGHT + MIN_PANEL_HEIGHT) and figure.shape[1] >= 4 * MIN_PANEL_HEIGHT
    assert 0.0 <= float(figure.min()) and float(figure.max()) <= 1.0
