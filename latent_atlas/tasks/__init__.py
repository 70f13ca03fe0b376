"""What the engine runs: one scene (a NeRF method), many scenes (Tri-Planes, IG-AE, Scaled-IG), an autoencoder."""
