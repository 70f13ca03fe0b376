import math

import torch

from latent_atlas.encodings.frequency import FrequencyEncoding


def test_frequency_encoding_values():
    enc = FrequencyEncoding(2, n_frequencies=3, include_input=True)
    x = torch.tensor([[0.25, -0.5]])
    out = enc(x)
    assert out.shape == (1, enc.out_dim) == (1, 14)
    expected = [0.25, -0.5]
    expected += [math.sin(0.25 * f) if i % 2 == 0 else math.sin(-0.5 * f) for f in (1, 2, 4) for i in range(2)]
    expected += [math.cos(0.25 * f) if i % 2 == 0 else math.cos(-0.5 * f) for f in (1, 2, 4) for i in range(2)]
    assert torch.allclose(out[0], torch.tensor(expected), atol=1e-6)
