import numpy as np
import ot
import pytest
import torch

from mmmix.ops.align_mix import align_from, align_to, alignment_plan


def spatially_permuted(n=3, c=8, h=3, w=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
    perms = [torch.randperm(h * w, generator=g) for _ in range(n)]
    b = torch.stack([x.flatten(1)[:, p].view(c, h, w)
                     for x, p in zip(a, perms)])
    return a, b, perms


def test_small_eps_recovers_the_permutation_like_emd():
    a, b, perms = spatially_permuted()
    assign, info = alignment_plan(a, b, eps=1e-3, max_iter=2000,
                                  stop_thr=1e-9, stop_rule='marginal')
    r = a.shape[2] * a.shape[3]
    for k, p in enumerate(perms):
        # b[:, j] = a[:, p[j]]: position p[j] of a matches position j of b
        expected = torch.zeros(r, r, dtype=torch.float64)
        expected[p, torch.arange(r)] = 1
        xa = a[k].flatten(1).T.numpy()
        xb = b[k].flatten(1).T.numpy()
        emd = ot.emd(np.full(r, 1 / r), np.full(r, 1 / r),
                     ot.dist(xa, xb)) * r
        np.testing.assert_allclose(emd, expected.numpy(), atol=1e-9)
        torch.testing.assert_close(assign[k], expected, atol=1e-6, rtol=0)
    # B R^T brings b back to the positions of a; A R moves a onto b
    torch.testing.assert_close(align_to(b, assign), a, atol=1e-5, rtol=0)
    torch.testing.assert_close(align_from(a, assign), b, atol=1e-5, rtol=0)


def test_products_match_the_column_definitions():
    g = torch.Generator().manual_seed(1)
    a = torch.randn(2, 5, 2, 3, generator=g)
    b = torch.randn(2, 5, 2, 3, generator=g)
    assign = torch.rand(2, 6, 6, generator=g)
    to = align_to(b, assign).flatten(2)
    frm = align_from(a, assign).flatten(2)
    for k in range(2):
        for i in range(6):
            col = sum(assign[k, i, j] * b[k].flatten(1)[:, j]
                      for j in range(6))
            torch.testing.assert_close(to[k, :, i], col)
            col = sum(assign[k, j, i] * a[k].flatten(1)[:, j]
                      for j in range(6))
            torch.testing.assert_close(frm[k, :, i], col)


def test_columns_of_assignment_sum_to_one_and_row_renorm():
    g = torch.Generator().manual_seed(2)
    a = torch.randn(4, 16, 4, 4, generator=g).relu() * 5  # raw, big costs
    b = a[torch.tensor([1, 2, 3, 0])]
    assign, info = alignment_plan(a, b)
    assert torch.isfinite(assign).all() and (assign >= 0).all()
    torch.testing.assert_close(assign.sum(1), torch.ones(4, 16),
                               atol=1e-4, rtol=0)
    assert info['row_err'].max() > 1e-2  # early stop: rows not stochastic
    renorm, _ = alignment_plan(a, b, row_renorm=True)
    torch.testing.assert_close(renorm.sum(2), torch.ones(4, 16), atol=1e-4,
                               rtol=0)


def test_cost_norm_makes_the_plan_scale_free():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(2, 2, 8, 2, 2, generator=g)
    for norm in ('max', 'mean'):
        p1, _ = alignment_plan(a, b, cost_norm=norm, stop_rule='none')
        p2, _ = alignment_plan(a * 30, b * 30, cost_norm=norm,
                               stop_rule='none')
        torch.testing.assert_close(p1, p2, atol=1e-5, rtol=1e-4)


def test_plan_has_no_graph_and_gradients_reach_both_maps():
    a = torch.randn(2, 4, 2, 2, requires_grad=True)
    b = torch.randn(2, 4, 2, 2, requires_grad=True)
    assign, _ = alignment_plan(a, b)
    assert not assign.requires_grad
    (align_to(b, assign).sum() + align_from(a, assign).sum()).backward()
    # d sum(B R^T) / dB = row sums of R^T; d sum(A R) / dA = row sums of R
    torch.testing.assert_close(
        b.grad.flatten(2), assign.sum(1)[:, None].expand(2, 4, 4))
    torch.testing.assert_close(
        a.grad.flatten(2), assign.sum(2)[:, None].expand(2, 4, 4))


def test_bad_input():
    a = torch.randn(2, 4, 2, 2)
    with pytest.raises(ValueError, match='a and b must be'):
        alignment_plan(a, a[:, :, :1])
    with pytest.raises(ValueError, match='cost_norm'):
        alignment_plan(a, a, cost_norm='sum')
    with pytest.raises(ValueError, match='eps must be > 0'):
        alignment_plan(a, a, eps=0)
