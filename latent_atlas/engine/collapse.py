"""Collapse detection: a run whose loss stays finite but which stopped learning (a learning rate far too
high saturates the field to one colour, or blows its outputs up).

Tasks report two scalars each step: `fit_mse`, the mean squared error of the prediction against the
step's targets, and `baseline_mse`, that of a trivial prediction: the better of the best constant colour
(the targets' variance) and an empty scene (each ray's background). A model within 5% of the trivial
prediction for `patience` steps after `warmup` steps, or a hundred times worse than it, has collapsed:
the engine stops it (exit 3) with the last good checkpoint rather than spend the budget.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CollapseGuard:
    """Smoothed fit/trivial error ratio per step; `update` returns why the run collapsed, or None."""

    warmup: int = 300
    """Steps before a flat-lined model is judged (early steps of a healthy run can be no better than a trivial prediction)."""
    patience: int = 200
    """Consecutive steps the smoothed error must stay within flat_ratio of the trivial prediction's."""
    flat_ratio: float = 0.95
    """Smoothed error at least this fraction of the trivial prediction's counts as no better than it."""
    explode_ratio: float = 100.0
    """Smoothed error this many times the trivial prediction's is an explosion (judged after `smoothing` steps)."""
    smoothing: int = 20
    """Steps of the exponential moving averages."""

    def __post_init__(self) -> None:
        self.fit = self.baseline = None
        self.seen = 0
        self.flat_steps = 0

    def update(self, step: int, scalars: dict[str, float]) -> str | None:
        """Feeds one step's scalars; a one-line reason once the run counts as collapsed, else None."""
        if "fit_mse" not in scalars or "baseline_mse" not in scalars:
            return None
        alpha = 1.0 / self.smoothing
        fit, baseline = float(scalars["fit_mse"]), float(scalars["baseline_mse"])
        self.fit = fit if self.fit is None else (1 - alpha) * self.fit + alpha * fit
        self.baseline = baseline if self.baseline is None else (1 - alpha) * self.baseline + alpha * baseline
        self.seen += 1
        if self.baseline <= 1e-12:  # constant targets (an empty view): nothing to judge
            return None
        ratio = self.fit / self.baseline
        if self.seen >= self.smoothing and ratio > self.explode_ratio:
            return f"the model's error exploded to {ratio:.3g}x that of a trivial prediction (fit mse {self.fit:.3g}) by step {step}"
        self.flat_steps = self.flat_steps + 1 if ratio >= self.flat_ratio else 0
        if step >= self.warmup and self.flat_steps >= self.patience:
            return (
                f"the model has been no better than a constant colour or an empty scene for {self.flat_steps} steps "
                f"(fit mse {self.fit:.3g} vs {self.baseline:.3g}) at step {step}"
            )
        return None
