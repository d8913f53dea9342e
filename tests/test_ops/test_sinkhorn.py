import numpy as np
import ot
import pytest
import torch

from mmmix.ops import pairwise_sqeuclidean, sinkhorn_log


def rand_cost(seed, b, r, s=None, scale=1.0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    s = s or r
    x = torch.randn(b, r, 8, generator=g, dtype=dtype)
    y = torch.randn(b, s, 8, generator=g, dtype=dtype)
    c = pairwise_sqeuclidean(x, y)
    return c / c.mean() * scale


def test_pairwise_sqeuclidean_matches_cdist():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 5, 7, generator=g, dtype=torch.float64)
    y = torch.randn(3, 6, 7, generator=g, dtype=torch.float64)
    c = pairwise_sqeuclidean(x, y)
    torch.testing.assert_close(c, torch.cdist(x, y) ** 2)
    assert (pairwise_sqeuclidean(x, x) >= 0).all()


@pytest.mark.parametrize('seed', range(8))
def test_converged_plan_matches_pot(seed):
    rng = np.random.default_rng(seed)
    r, s = int(rng.integers(4, 17)), int(rng.integers(4, 17))
    eps = float(rng.choice([0.1, 0.3, 1.0]))
    cost = rand_cost(seed, 4, r, s)
    plan, info = sinkhorn_log(cost, eps=eps, max_iter=20000, stop_thr=1e-11,
                              stop_rule='marginal', sync_every=100)
    assert (info['row_err'] < 1e-9).all()
    for i in range(4):
        ref = ot.sinkhorn(np.full(r, 1 / r), np.full(s, 1 / s),
                          cost[i].numpy(), reg=eps, method='sinkhorn_log',
                          numItermax=20000, stopThr=1e-13)
        np.testing.assert_allclose(plan[i].numpy(), ref, atol=1e-8,
                                   rtol=1e-5)


def test_non_uniform_marginals_match_pot():
    cost = rand_cost(1, 1, 6, 5)[0]
    a = torch.tensor([.1, .2, .3, .1, .2, .1], dtype=torch.float64)
    b = torch.tensor([.3, .3, .2, .1, .1], dtype=torch.float64)
    plan, _ = sinkhorn_log(cost, eps=0.2, a=a, b=b, max_iter=20000,
                           stop_thr=1e-11, stop_rule='marginal',
                           sync_every=100)
    ref = ot.sinkhorn(a.numpy(), b.numpy(), cost.numpy(), reg=0.2,
                      method='sinkhorn_log', numItermax=20000,
                      stopThr=1e-13)
    np.testing.assert_allclose(plan.numpy(), ref, atol=1e-8, rtol=1e-5)
    torch.testing.assert_close(plan.sum(1), a)
    torch.testing.assert_close(plan.sum(0), b)


@pytest.mark.parametrize('n', [1, 3, 17])
@pytest.mark.parametrize('dtype, tol', [(torch.float64, 1e-12),
                                        (torch.float32, 1e-4)])
def test_columns_exact_after_any_iteration_count(n, dtype, tol):
    # the last update of each iteration is the column one: column sums are
    # exact up to rounding (float32 rounding grows with cost / eps)
    cost = rand_cost(2, 5, 9, scale=30.0, dtype=dtype)
    plan, info = sinkhorn_log(cost, eps=0.1, max_iter=n, stop_rule='none')
    assert plan.dtype == dtype and (plan >= 0).all()
    torch.testing.assert_close(plan.sum(1), torch.full((5, 9), 1 / 9,
                                                       dtype=dtype),
                               atol=0, rtol=tol)
    assert (info['n_iter'] == n).all()
    assert (info['col_err'] < tol).all()
    if n == 1:  # rows are far from their marginals after one iteration
        assert (info['row_err'] > 1e-3).all()


def test_permutation_limit_matches_emd():
    g = torch.Generator().manual_seed(3)
    r = 9
    x = torch.randn(r, 16, generator=g, dtype=torch.float64)
    perm = torch.randperm(r, generator=g)
    y = x[perm]  # A' is a spatial permutation of A
    cost = pairwise_sqeuclidean(x, y)
    plan, _ = sinkhorn_log(cost, eps=0.05, max_iter=5000, stop_thr=1e-9,
                           stop_rule='marginal', sync_every=50)
    assign = r * plan
    emd = r * torch.from_numpy(
        ot.emd(np.full(r, 1 / r), np.full(r, 1 / r), cost.numpy()))
    torch.testing.assert_close(assign, emd, atol=1e-6, rtol=0)
    # aligning A' to A with the plan recovers A (A~ = A' R^T, rows here)
    torch.testing.assert_close(assign @ y, x, atol=1e-5, rtol=0)


def test_large_raw_costs_stay_finite_in_float32():
    cost = rand_cost(4, 8, 16, scale=1e4, dtype=torch.float32)
    assert float(cost.max()) > 1e4
    assert (torch.exp(-cost / 0.1) == 0).float().mean() > 0.9  # plain kernel
    plan, info = sinkhorn_log(cost, eps=0.1)
    assert torch.isfinite(plan).all()
    assert (plan.sum(2) > 0).all() and (plan.sum(1) > 0).all()
    assert torch.isfinite(info['row_err']).all()


def official_reference(cost, eps, max_iter, thr):
    """AlignMixup's loop as written, with a host-side break."""
    b, r, s = cost.shape
    u = torch.zeros(b, r, dtype=cost.dtype)
    v = torch.zeros(b, s, dtype=cost.dtype)
    log_a, log_b = -np.log(r), -np.log(s)

    def m(u, v):
        return (-cost + u[:, :, None] + v[:, None, :]) / eps

    n = 0
    for _ in range(max_iter):
        u_prev = u
        u = eps * (log_a - torch.logsumexp(m(u, v), dim=-1)) + u
        v = eps * (log_b - torch.logsumexp(m(u, v).transpose(-2, -1),
                                          dim=-1)) + v
        n += 1
        if (u - u_prev).abs().sum(-1).mean().item() < thr:
            break
    return m(u, v).exp(), n


@pytest.mark.parametrize('scale, max_iter', [(1.0, 100), (14.0, 100),
                                             (90.0, 100), (350.0, 30)])
def test_official_stop_rule_reproduces_the_reference(scale, max_iter):
    cost = rand_cost(5, 6, 16, scale=scale)
    plan, info = sinkhorn_log(cost, eps=0.1, max_iter=max_iter,
                              stop_thr=0.1, stop_rule='official')
    ref, n = official_reference(cost, 0.1, max_iter, 0.1)
    assert (info['n_iter'] == n).all() and n <= max_iter
    torch.testing.assert_close(plan, ref)


@pytest.mark.parametrize('side', ['rows', 'cols'])
def test_one_sided(side):
    cost = rand_cost(6, 3, 7, 5)
    plan, info = sinkhorn_log(cost, eps=0.3, one_sided=side, max_iter=0)
    dim = -1 if side == 'rows' else -2
    n = cost.shape[1] if side == 'rows' else cost.shape[2]
    torch.testing.assert_close(plan, torch.softmax(-cost / 0.3, dim=dim) / n)
    torch.testing.assert_close(plan.sum(dim), torch.full_like(
        plan.sum(dim), 1 / n))
    assert (info['n_iter'] == 0).all()


def test_batched_equals_one_by_one_and_no_grad():
    cost = rand_cost(7, 5, 8).requires_grad_()
    plan, info = sinkhorn_log(cost, eps=0.2, max_iter=50, stop_thr=1e-6,
                              stop_rule='marginal')
    assert not plan.requires_grad and plan.grad_fn is None
    for i in range(5):
        single, single_info = sinkhorn_log(cost[i], eps=0.2, max_iter=50,
                                           stop_thr=1e-6,
                                           stop_rule='marginal')
        torch.testing.assert_close(plan[i], single)
        assert int(single_info['n_iter']) == int(info['n_iter'][i])


def test_half_precision_input_is_solved_in_float32():
    cost = rand_cost(8, 2, 6, dtype=torch.float32).half()
    plan, _ = sinkhorn_log(cost)
    assert plan.dtype == torch.float32 and plan.device == cost.device


@pytest.mark.parametrize('kwargs, match', [
    (dict(eps=0), 'eps'), (dict(max_iter=-1), 'max_iter'),
    (dict(stop_rule='fast'), 'stop_rule'), (dict(stop_thr=0), 'stop_thr'),
    (dict(one_sided='both'), 'one_sided'), (dict(max_iter=0), 'one_sided'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sinkhorn_log(torch.rand(2, 3, 3), **kwargs)
