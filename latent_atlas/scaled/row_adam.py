"""Adam for per-scene tables [N, ...] that updates only the rows (scenes) of the current batch."""

from __future__ import annotations

import torch
from torch import Tensor

CATCH_UP_ROWS = 16
"""Rows caught up at once when every row is (before evaluation or a checkpoint): bounds the temporaries."""
CATCH_UP_TERMS = 256
"""Missed steps a catch-up sums (momentum fades as (beta1 / sqrt(beta2))^j: 2e-12 of the first step's at j = 256)."""


def missed_steps_factor(
    last: Tensor, now: int, betas: tuple[float, float], eps: float, lr_last: Tensor, lr_now: float, terms: int = CATCH_UP_TERMS
) -> tuple[Tensor, Tensor]:
    """What dense Adam moved rows by in the steps s = last + 1 .. now they missed (no gradient): a factor F [k] and an
    epsilon E [k] such that the move is F * m / (sqrt(v) + E), with m, v the rows' moments at `last` [k].

    Step s (j = s - last) moves a row by a_s m / (b_s sqrt(v) + eps), a_s = lr_s b1^j / (1 - b1^s), b_s = sqrt(b2^j /
    (1 - b2^s)): F = sum a_s / b_s, E = the F-weighted mean of eps / b_s (exact for eps = 0, and where eps / b_s is
    the same over the terms that count: every step after the first few hundred). lr_s runs geometrically from the
    lr the rows were last current at, lr_last [k], to lr_now (the lr of step `now`): exact for an exponential schedule."""
    beta1, beta2 = betas
    j = torch.arange(1, terms + 1, dtype=torch.float64, device=last.device)[None]  # [1, J]
    last = last.double()[:, None]  # [k, 1]
    gap = (now - last).clamp(min=1.0)
    lr_last = lr_last.double()[:, None]  # 0 for a row never stepped: its moments are 0, it does not move
    ratio = torch.where(lr_last > 0, lr_now / lr_last.clamp(min=1e-30), torch.ones_like(lr_last)) ** (1.0 / gap)
    lr = lr_last * ratio**j  # [k, J]
    s = last + j
    inv_b = (1 - beta2**s).sqrt() / beta2 ** (j / 2)  # 1 / b_s
    weight = torch.where(j <= gap, lr * beta1**j / (1 - beta1**s) * inv_b, torch.zeros_like(inv_b))
    factor = weight.sum(1)
    weighted_eps = (weight * eps * inv_b).sum(1) / factor.clamp(min=1e-300)
    return factor, torch.where(factor > 0, weighted_eps, torch.full_like(factor, eps))


class RowAdam(torch.optim.Optimizer):
    """Adam whose step touches only `rows` of each parameter's first dimension: O(rows) per step, not O(N).

    catch_up=False (`--scene-optimizer row-adam`): a step count per row; a scene changes only when it is trained.
    catch_up=True (`lazy-adam`): torch.optim.Adam's result at the same cost. Dense Adam keeps moving a row between
    its visits (its momentum decays, its gradient is zero); here those moves are summed in closed form when the row
    is next used (`catch_up(rows)` before rendering them, `catch_up()` for all before reading every row: evaluation,
    checkpoints). With every row in every step both modes are exactly torch.optim.Adam.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, catch_up: bool = False):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})
        self.lazy = catch_up

    def _state(self, p: Tensor) -> dict:
        state = self.state[p]
        if not state:
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
            # in the parameter's dtype, as torch restores optimiser state (else a resumed run would round differently)
            state["row_step"] = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)  # per row: steps taken (row-adam) or the step it is current at (lazy)
            state["lr_at"] = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)  # lazy: the lr the row's catch-up starts from
            state["step"] = torch.zeros((), dtype=torch.float64)  # lazy: steps taken by the whole table
            state["lr_last"] = torch.zeros((), dtype=p.dtype)  # lazy: the lr of the table's last step
        return state

    @torch.no_grad()
    def catch_up(self, rows: Tensor | None = None) -> None:
        """lazy-adam: moves `rows` [k] (None: every row) by the dense-Adam steps they missed; no-op for row-adam."""
        if not self.lazy:
            return
        for group in self.param_groups:
            for p in group["params"]:
                if self.state[p]:
                    self._catch_up_param(p, group, rows)

    def _catch_up_param(self, p: Tensor, group: dict, rows: Tensor | None) -> None:
        """Catches up `rows` [k] (None: all) of one parameter, those behind its table's step, in slices."""
        state = self.state[p]
        index = torch.arange(p.shape[0], device=p.device) if rows is None else rows.to(p.device)
        behind = index[state["row_step"][index] < int(state["step"])]
        for start in range(0, behind.numel(), CATCH_UP_ROWS):  # all rows: in slices, so temporaries stay small
            self._catch_up_rows(p, group, state, behind[start : start + CATCH_UP_ROWS])

    @staticmethod
    def _catch_up_rows(p: Tensor, group: dict, state: dict, behind: Tensor) -> None:
        """Moves rows `behind` [k] of p (all behind the table's step) to where dense Adam has them."""
        now = int(state["step"])
        last = state["row_step"][behind]
        factor, eps = missed_steps_factor(last, now, group["betas"], group["eps"], state["lr_at"][behind], float(state["lr_last"]))
        shape = (-1,) + (1,) * (p.dim() - 1)
        exp_avg, exp_avg_sq = state["exp_avg"][behind], state["exp_avg_sq"][behind]
        p[behind] -= factor.to(p.dtype).view(shape) * exp_avg / (exp_avg_sq.sqrt() + eps.to(p.dtype).view(shape))
        beta1, beta2 = group["betas"]
        missed = (now - last).view(shape)
        state["exp_avg"][behind] = exp_avg * (beta1**missed).to(p.dtype)
        state["exp_avg_sq"][behind] = exp_avg_sq * (beta2**missed).to(p.dtype)
        state["row_step"][behind] = float(now)
        state["lr_at"][behind] = state["lr_last"].to(p.dtype)  # later missed steps start from the lr of step `now`

    @torch.no_grad()
    def step(self, closure=None, rows: Tensor | None = None) -> None:
        """Updates `rows` [k] (distinct row indices; None: all rows) of every parameter with a gradient.

        A sparse gradient (see fields.multi_triplane.gather_rows) names its own rows; `rows` is then ignored.
        """
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self._state(p)
                if p.grad.is_sparse:
                    sparse = p.grad.coalesce()
                    index, grad = sparse.indices()[0], sparse.values()
                else:
                    index = torch.arange(p.shape[0], device=p.device) if rows is None else rows.to(p.device)
                    grad = p.grad[index]
                if self.lazy:
                    self._catch_up_param(p, group, index)  # rendered before their catch-up (a caller that skipped it): current now
                    state["step"] += 1
                    state["lr_last"].fill_(group["lr"])
                    step = torch.full((len(index),), float(state["step"]), dtype=torch.float64, device=p.device)
                else:
                    step = state["row_step"][index] + 1
                exp_avg = state["exp_avg"][index].mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq = state["exp_avg_sq"][index].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                shape = (-1,) + (1,) * (p.dim() - 1)
                bias1 = (1 - beta1**step).to(p.dtype).view(shape)
                bias2 = (1 - beta2**step).to(p.dtype).view(shape)
                denom = (exp_avg_sq / bias2).sqrt_().add_(group["eps"])
                p[index] -= group["lr"] * (exp_avg / bias1) / denom
                state["exp_avg"][index] = exp_avg
                state["exp_avg_sq"][index] = exp_avg_sq
                state["row_step"][index] = step.to(state["row_step"].dtype)  # a restored state holds the parameter's dtype
                state["lr_at"][index] = group["lr"]
