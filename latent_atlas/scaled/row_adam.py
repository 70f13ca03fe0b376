"""Adam for per-scene tables [N, ...] that updates only the rows (scenes) of the current batch."""

from __future__ import annotations

import torch
from torch import Tensor


class RowAdam(torch.optim.Optimizer):
    """Adam whose step touches only `rows` of each parameter's first dimension, with a step count per row.

    Dense Adam moves every scene of a table at every step (momentum keeps pushing scenes that were not
    rendered) and costs O(N) per step. Here a scene changes only when it is trained, and a step costs
    O(rows). With every row in every step it is exactly torch.optim.Adam.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps})

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
                state = self.state[p]
                if not state:
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                    state["row_step"] = torch.zeros(p.shape[0], dtype=p.dtype, device=p.device)  # steps taken per row
                if p.grad.is_sparse:
                    sparse = p.grad.coalesce()
                    index, grad = sparse.indices()[0], sparse.values()
                else:
                    index = torch.arange(p.shape[0], device=p.device) if rows is None else rows.to(p.device)
                    grad = p.grad[index]
                exp_avg = state["exp_avg"][index].mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq = state["exp_avg_sq"][index].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                step = state["row_step"][index] + 1
                shape = (-1,) + (1,) * (p.dim() - 1)
                bias1 = (1 - beta1**step).view(shape)
                bias2 = (1 - beta2**step).view(shape)
                denom = (exp_avg_sq / bias2).sqrt_().add_(group["eps"])
                p[index] -= group["lr"] * (exp_avg / bias1) / denom
                state["exp_avg"][index] = exp_avg
                state["exp_avg_sq"][index] = exp_avg_sq
                state["row_step"][index] = step
