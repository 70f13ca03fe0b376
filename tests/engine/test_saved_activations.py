import torch

from latent_atlas.engine.saved_activations import SavedActivationMeter


def test_counts_saved_inputs_and_outputs_not_parameters():
    lin = torch.nn.Linear(8, 16)
    x = torch.randn(32, 8)
    with SavedActivationMeter(lin.parameters()) as meter:
        y = torch.relu(lin(x))  # linear saves its input [32, 8] (and its weight: excluded); relu its output [32, 16]
        z = y * y  # saves y twice: one storage, counted once
    z.sum().backward()
    assert meter.bytes == 4 * (32 * 8 + 32 * 16)


def test_counts_nothing_without_grad():
    lin = torch.nn.Linear(8, 16)
    with torch.no_grad(), SavedActivationMeter(lin.parameters()) as meter:
        lin(torch.randn(4, 8))
    assert meter.bytes == 0
