"""Radiance fields: position (+ direction) -> density and C channels."""
