"""Collapse detection: a run whose loss stays finite but which stopped learning (a learning rate far too
high saturates the field to one colour, or blows its outputs up).

Tasks report two scalars each step: `fit_mse`, the mean squared error of the prediction against the
step's targets, and `baseline_mse`, that of a trivial prediction: the better of the best constant colour
(the targets' variance) and an empty scene (each ray's background). A model within 5% of the trivial
prediction for `patience` steps after `warmup` steps, clearly worse than it (1.5x) for a fifth of a short
run, or a hundred times worse, has collapsed:
the engine stops it (exit 3) with the last good checkpoint rather than spend the budget.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CollapseGuard:
    """Smoothed fit/trivial error ratio per step; `update` returns why the run collapsed, or None."""

    warmup: int = 300
    """Steps before a flat-lined model is judged (early steps of a healthy run can be no better than a trivial
    prediction)."""
    patience: int = 200
    """Consecutive steps the smoothed error must stay at or above flat_ratio of the trivial prediction's."""
    flat_ratio: float = 0.95
    """Smoothed error at least this fraction of the trivial prediction's counts as no better than it."""
    worse_ratio: float = 1.5
    """Smoothed error this many times the trivial prediction's is clearly worse: judged sooner (worse_warmup,
    worse_patience), which short runs need (a many-scene run can take 80 steps)."""
    worse_warmup: int = 50
    worse_patience: int = 30
    explode_ratio: float = 100.0
    """Smoothed error this many times the trivial prediction's is an explosion (judged after `smoothing` steps)."""
    smoothing: int = 20
    """Steps of the exponential moving averages."""

    @classmethod
    def for_run(cls, total_steps: int) -> CollapseGuard:
        """A guard for a run of `total_steps`: the clearly-worse rule waits a quarter of the run (50 to 300
        steps) and wants a fifth of it (30 to 200 steps) in a row."""
        return cls(worse_warmup=int(min(300, max(50, 0.25 * total_steps))), worse_patience=int(min(200, max(30, 0.2 * total_steps))))

    def __post_init__(self) -> None:
        self.fit = self.baseline = None
        self.seen = 0
        self.flat_steps = self.worse_steps = 0

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
        self.worse_steps = self.worse_steps + 1 if ratio >= self.worse_ratio else 0
        flat = step >= self.warmup and self.flat_steps >= self.patience
        worse = step >= self.worse_warmup and self.worse_steps >= self.worse_patience
        if flat or worse:
            how = "no better than" if flat else f"{ratio:.2g}x worse than"
            steps = self.flat_steps if flat else self.worse_steps
            return (
                f"the model has been {how} a constant colour or an empty scene for {steps} steps (fit mse {self.fit:.3g} vs {self.baseline:.3g}) at step {step}"
            )
        return None
