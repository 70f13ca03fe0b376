"""Procedural scene families rendered by the package itself (analytic SDFs, sphere tracing in torch)."""
