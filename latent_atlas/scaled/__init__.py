"""Many scenes at once: multi-scene Tri-Planes, IG-AE, Scaled-IG stage 1 / stage 2."""
