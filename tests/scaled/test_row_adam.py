import torch

from latent_atlas.scaled.row_adam import RowAdam


def _losses(p: torch.Tensor, step: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(step)
    return ((p - torch.randn(p.shape, generator=g)) ** 2 * torch.rand(p.shape, generator=g)).sum()


def test_all_rows_every_step_is_torch_adam():
    start = torch.randn(6, 3, 4)
    ours, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt_ours, opt_ref = RowAdam([ours], lr=0.05), torch.optim.Adam([ref], lr=0.05)
    for step in range(5):
        for p, opt in ((ours, opt_ours), (ref, opt_ref)):
            opt.zero_grad()
            _losses(p, step).backward()
            opt.step() if opt is opt_ref else opt.step(rows=torch.arange(6))
    torch.testing.assert_close(ours, ref)


def test_rows_outside_the_batch_do_not_move_and_keep_their_own_step_count():
    start = torch.randn(4, 5)
    p = torch.nn.Parameter(start.clone())
    opt = RowAdam([p], lr=0.1)
    for step, rows in enumerate(([0, 1], [0, 2], [0, 1])):
        opt.zero_grad()
        _losses(p, step).backward()
        opt.step(rows=torch.tensor(rows))
    assert torch.equal(p[3], start[3])  # never in a batch: untouched (dense Adam's momentum would move it)
    assert opt.state[p]["row_step"].tolist() == [3.0, 2.0, 1.0, 0.0]
    # a row's first update is Adam's first step: lr * sign(grad) (bias-corrected m / sqrt(v) = g / |g|)
    q = torch.nn.Parameter(start.clone())
    opt_q = RowAdam([q], lr=0.1)
    _losses(q, 0).backward()
    grad = q.grad.clone()
    opt_q.step(rows=torch.tensor([2]))
    torch.testing.assert_close(q[2], start[2] - 0.1 * grad[2].sign(), atol=1e-6, rtol=0)


def test_sparse_gradient_gather_matches_dense_and_feeds_row_adam():
    from latent_atlas.fields.multi_triplane import gather_rows

    start = torch.randn(5, 2, 3)
    rows = torch.tensor([3, 0])
    dense_p, sparse_p = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    weights = torch.randn(2, 2, 3)
    (gather_rows(dense_p, rows) * weights).sum().backward()
    (gather_rows(sparse_p, rows, sparse_grad=True) * weights).sum().backward()
    assert sparse_p.grad.is_sparse and sparse_p.grad._nnz() == 2  # only the gathered rows
    torch.testing.assert_close(sparse_p.grad.to_dense(), dense_p.grad)
    dense_opt, sparse_opt = RowAdam([dense_p], lr=0.1), RowAdam([sparse_p], lr=0.1)
    dense_opt.step(rows=rows)
    sparse_opt.step()  # the rows come from the sparse gradient
    torch.testing.assert_close(sparse_p, dense_p)
    assert torch.equal(sparse_p[1], start[1])


def test_lazy_rows_catch_up_to_torch_adam():
    """lazy-adam: rows visited at random, each caught up when rendered and all at the end, end where dense Adam
    (zero gradients for the rows outside the batch) ends: its moves between visits are summed in closed form."""
    from latent_atlas.fields.multi_triplane import gather_rows

    start = torch.randn(8, 3, 4)
    lazy, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt_lazy = RowAdam([lazy], lr=0.03, eps=1e-15, catch_up=True)
    opt_ref = torch.optim.Adam([ref], lr=0.03, eps=1e-15)
    pick = torch.Generator().manual_seed(3)
    for step in range(60):
        rows = torch.randperm(8, generator=pick)[:2]
        opt_lazy.catch_up(rows)  # before the rows are read
        torch.testing.assert_close(lazy[rows], ref[rows], rtol=1e-4, atol=1e-6)  # the rendered rows are where Adam has them
        for p, opt in ((lazy, opt_lazy), (ref, opt_ref)):
            opt.zero_grad()
            _losses(gather_rows(p, rows, sparse_grad=p is lazy), step).backward()
            opt.step()
    assert not torch.allclose(lazy, ref, rtol=1e-4, atol=1e-6)  # rows outside the last batches are behind ...
    opt_lazy.catch_up()
    torch.testing.assert_close(lazy, ref, rtol=1e-4, atol=1e-6)  # ... until caught up
    assert opt_lazy.state[lazy]["row_step"].tolist() == [60.0] * 8


def test_lazy_catch_up_follows_the_learning_rate_schedule_closely():
    """The missed steps' lr runs geometrically from the row's last step to the table's: with an exponential decay
    (10x over 200 steps), eps 1e-8 (moved out of the sum) and 2 of 8 rows per step, the end state is within 0.1%
    of the moves dense Adam made (with the last step's lr for every missed step: 1.8%)."""
    from latent_atlas.fields.multi_triplane import gather_rows

    start = torch.randn(8, 5)
    lazy, ref = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    opt_lazy, opt_ref = RowAdam([lazy], lr=0.03, catch_up=True), torch.optim.Adam([ref], lr=0.03)
    pick = torch.Generator().manual_seed(4)
    for step in range(200):
        for opt in (opt_lazy, opt_ref):
            opt.param_groups[0]["lr"] = 0.03 * 0.1 ** (step / 200)
        rows = torch.randperm(8, generator=pick)[:2]
        opt_lazy.catch_up(rows)
        for p, opt in ((lazy, opt_lazy), (ref, opt_ref)):
            opt.zero_grad()
            _losses(gather_rows(p, rows, sparse_grad=p is lazy), step).backward()
            opt.step()
    opt_lazy.catch_up()
    assert ((lazy - ref).norm() / (ref - start).norm()).item() < 1e-3
