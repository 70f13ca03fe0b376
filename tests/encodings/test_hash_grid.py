import torch

from latent_atlas.encodings.hash_grid import HASH_PRIMES, HashGridConfig, HashGridEncoding, level_resolutions


def _slow_reference(enc: HashGridEncoding, x: torch.Tensor) -> torch.Tensor:
    """Per point, per level, per corner loop of the instant-ngp lookup."""
    cfg, out = enc.cfg, []
    for point in x.tolist():
        feats = []
        for level, res in enumerate(level_resolutions(cfg)):
            pos = [min(max(v, 0.0), 1.0) * res for v in point]
            base = [min(int(p // 1), res - 1) for p in pos]
            frac = [p - b for p, b in zip(pos, base)]
            acc = torch.zeros(cfg.features_per_level)
            for corner in range(8):
                bits = (corner >> 2 & 1, corner >> 1 & 1, corner & 1)
                c = [b + bit for b, bit in zip(base, bits)]
                weight = 1.0
                for bit, f in zip(bits, frac):
                    weight *= f if bit else 1.0 - f
                if (res + 1) ** 3 <= enc.table_size:
                    index = c[0] + c[1] * (res + 1) + c[2] * (res + 1) ** 2
                else:
                    index = ((c[0] * HASH_PRIMES[0]) ^ (c[1] * HASH_PRIMES[1]) ^ (c[2] * HASH_PRIMES[2])) % enc.table_size
                acc += weight * enc.table[level, index]
            feats.append(acc)
        out.append(torch.cat(feats))
    return torch.stack(out)


def test_hash_grid_matches_slow_loop():
    torch.manual_seed(0)
    cfg = HashGridConfig(n_levels=4, features_per_level=2, log2_hashmap_size=10, base_resolution=4, max_resolution=64, init_scale=1.0)
    enc = HashGridEncoding(cfg)
    assert level_resolutions(cfg) == [4, 10, 25, 64]  # only level 0 (5^3 vertices) is dense in a 1024 table
    x = torch.rand(40, 3)
    x[0] = torch.tensor([0.0, 1.0, 0.5])  # borders
    fast = enc(x)
    assert fast.shape == (40, 8)
    assert torch.allclose(fast, _slow_reference(enc, x), atol=1e-5)


def test_hash_grid_is_differentiable_and_local():
    enc = HashGridEncoding(HashGridConfig(n_levels=2, log2_hashmap_size=8, base_resolution=2, max_resolution=4))
    enc(torch.tensor([[0.1, 0.1, 0.1]])).sum().backward()
    touched = (enc.table.grad.abs().sum(-1) > 0).sum().item()
    assert 0 < touched <= 16  # at most 8 corners per level


def test_fast_corner_indices_match_reference_path():
    enc = HashGridEncoding(HashGridConfig(n_levels=8, log2_hashmap_size=12, base_resolution=4, max_resolution=512))
    assert 0 < enc.n_dense < 8  # both dense and hashed levels are exercised
    x = torch.rand(500, 3)
    fast_index, fast_weights = enc.corner_indices(x)
    ref_index, ref_weights = enc.corner_indices_reference(x)
    assert torch.equal(fast_index.long(), ref_index)
    assert torch.allclose(fast_weights, ref_weights, atol=1e-6)


def test_gather_rows_gradient_matches_indexing():
    from latent_atlas.encodings.hash_grid import gather_rows

    table = torch.randn(50, 3, requires_grad=True)
    index = torch.randint(0, 50, (40, 4), dtype=torch.int32)
    weights = torch.randn(40, 4, 3)
    (gather_rows(table, index) * weights).sum().backward()
    expected = torch.zeros(50, 3).index_put_((index.long().reshape(-1),), weights.reshape(-1, 3), accumulate=True)
    assert torch.allclose(table.grad, expected, atol=1e-5)
