"""Input encodings of positions and directions."""
