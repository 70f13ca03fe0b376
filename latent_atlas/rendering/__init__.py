"""Ray sampling and volume rendering, independent of the image space (any channel count)."""
