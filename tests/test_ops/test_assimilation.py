"""A2 losses (spec assimilating_views.md §2, §5.2) against the spec's
reference vectors, a per-anchor brute force of the equations, and
invariants."""
import math

import pytest
import torch
import torch.nn.functional as F

from mmmix.ops.assimilation import (
    a2_full_loss,
    a2_simclr_logit_form,
    alignment_term,
    cross_view_infonce,
    nt_xent,
)

TAU = ALPHA = 0.5
EX1 = ([[1., 0.], [0., 1.]], ) * 3
EX2 = ([[1., 0.], [.6, .8]], [[.8, .6], [0., 1.]], [[1., 0.], [1., 0.]])


def _t(rows, dtype=torch.float64):
    return torch.tensor(rows, dtype=dtype)


def _unit(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(*shape, generator=g, dtype=dtype), dim=-1)


def _close(a, b, tol=1e-6):
    assert abs(float(a) - float(b)) <= tol, (float(a), float(b))


# ------------------------------------------------------------ spec numbers
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_reference_example_1(dtype):
    z1, z2, z3 = (_t(z, dtype) for z in EX1)
    infonce = cross_view_infonce(z1, z2, TAU)
    ntx = nt_xent(z1, z2, TAU)
    _close(infonce, 0.126928)
    _close(infonce, math.log(1 + math.exp(-2)))
    _close(ntx, 0.239545)
    _close(ntx, math.log(1 + 2 * math.exp(-2)))
    align = alignment_term(z1, z2, z3, ALPHA, TAU)
    _close(infonce - align, -0.873072)
    _close(ntx - align, -0.760455)
    _close(a2_simclr_logit_form(z1, z2, z3, ALPHA, TAU), -0.760455)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_reference_example_2(dtype):
    z1, z2, z3 = (_t(z, dtype) for z in EX2)
    infonce = cross_view_infonce(z1, z2, TAU)
    ntx = nt_xent(z1, z2, TAU)
    both = alignment_term(z1, z2, z3, ALPHA, TAU, anchors='all')
    first = alignment_term(z1, z2, z3, ALPHA, TAU, anchors='first')
    _close(infonce, 0.524897)
    _close(ntx, 0.870714)
    _close(both, 0.6)
    _close(first, 0.8)
    _close(infonce - both, -0.075103)
    _close(infonce - first, -0.275103)
    _close(ntx - both, 0.270714)
    _close(a2_simclr_logit_form(z1, z2, z3, ALPHA, TAU), 0.270714)
    _close(a2_full_loss(z1, z2, z3, TAU), 1.710127)


# ------------------------------------------------- brute force of the sums
def _dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def _rows(z):
    return F.normalize(z.double(), dim=-1).tolist()


def _brute_infonce(z1, z2, tau):
    """Eq. 12 (two sums over I_1 and I_2), divided by 2N."""
    a, b = _rows(z1), _rows(z2)
    n, total = len(a), 0.
    for x, y in ((a, b), (b, a)):
        for i in range(n):
            den = sum(math.exp(_dot(x[i], y[j]) / tau) for j in range(n))
            total -= math.log(math.exp(_dot(x[i], y[i]) / tau) / den)
    return total / (2 * n)


def _brute_supcon(views, tau):
    """Eq. 1 (two views) / Eq. 13 (more): mean over all anchors of
    -1/|P(i)| sum_p log(exp(z_i.z_p/tau) / sum_{a != i} exp(z_i.z_a/tau))."""
    rows = [(v, i, r) for v, z in enumerate(views)
            for i, r in enumerate(_rows(z))]
    total = 0.
    for a_idx, (va, ia, za) in enumerate(rows):
        den = sum(math.exp(_dot(za, zb) / tau)
                  for b_idx, (_, _, zb) in enumerate(rows) if b_idx != a_idx)
        pos = [zb for vb, ib, zb in rows if ib == ia and vb != va]
        total -= sum(math.log(math.exp(_dot(za, zp) / tau) / den)
                     for zp in pos) / len(pos)
    return total / len(rows)


def _brute_align(z1, z2, gens, alpha, tau, anchors):
    """Eq. 4's L_align: sum_i alpha/|k(i)| sum_p z_i.z_p / tau, divided by
    the number of anchors."""
    anchor_sets = [_rows(z1)] + ([_rows(z2)] if anchors == 'all' else [])
    g = [_rows(x) for x in gens]
    total, count = 0., 0
    for rows in anchor_sets:
        for i, zi in enumerate(rows):
            total += alpha / len(g) * sum(_dot(zi, gp[i]) for gp in g) / tau
            count += 1
    return total / count


@pytest.mark.parametrize('k', [1, 3])
def test_against_brute_force(k):
    n, d, tau, alpha = 5, 4, 0.3, 0.7
    z1 = 2 * _unit(n, d, seed=1)  # not unit norm: normalised inside
    z2 = _unit(n, d, seed=2)
    gens = [0.5 * _unit(n, d, seed=10 + j) for j in range(k)]
    _close(cross_view_infonce(z1, z2, tau), _brute_infonce(z1, z2, tau))
    _close(nt_xent(z1, z2, tau), _brute_supcon([z1, z2], tau))
    _close(a2_full_loss(z1, z2, gens, tau),
           _brute_supcon([z1, z2] + gens, tau))
    for anchors in ('all', 'first'):
        _close(alignment_term(z1, z2, gens, alpha, tau, anchors),
               _brute_align(z1, z2, gens, alpha, tau, anchors))


def test_nt_xent_equals_mmpretrain_simclr_head():
    from mmpretrain.models.heads import ContrastiveHead
    from mmpretrain.models.selfsup import SimCLR
    n, tau = 6, 0.2
    z1, z2 = _unit(n, 8, seed=3).float(), _unit(n, 8, seed=4).float()
    # mmpretrain's SimCLR interleaves the views: rows 2i, 2i + 1
    z = torch.stack([z1, z2], 1).reshape(2 * n, -1)
    s = z @ z.t()
    mask, pos_idx, neg_mask = SimCLR._create_buffer(n, s.device)
    s = torch.masked_select(s, mask == 1).reshape(s.size(0), -1)
    pos = s[pos_idx].unsqueeze(1)
    neg = torch.masked_select(s, neg_mask == 1).reshape(s.size(0), -1)
    head = ContrastiveHead(loss=dict(type='CrossEntropyLoss'),
                           temperature=tau)
    torch.testing.assert_close(nt_xent(z1, z2, tau), head.loss(pos, neg),
                               atol=1e-6, rtol=1e-6)


# --------------------------------------------------------------- identities
@pytest.mark.parametrize('k', [0, 1, 2])
def test_eq14_equals_eq15(k):
    z1, z2 = _unit(7, 5, seed=1), _unit(7, 5, seed=2)
    gens = _unit(k, 7, 5, seed=3)
    eq14 = nt_xent(z1, z2, TAU) - alignment_term(z1, z2, gens, ALPHA, TAU)
    eq15 = a2_simclr_logit_form(z1, z2, gens, ALPHA, TAU)
    torch.testing.assert_close(eq14, eq15, atol=1e-12, rtol=1e-12)


def test_alpha_zero_and_no_generated_views_give_the_base_loss():
    z1, z2, zg = (_unit(6, 4, seed=s) for s in (1, 2, 3))
    assert float(alignment_term(z1, z2, zg, 0., TAU)) == 0.
    for empty in (None, [], zg.new_empty(0, 6, 4)):
        assert float(alignment_term(z1, z2, empty, ALPHA, TAU)) == 0.
        torch.testing.assert_close(a2_full_loss(z1, z2, empty, TAU),
                                   nt_xent(z1, z2, TAU))
    torch.testing.assert_close(a2_simclr_logit_form(z1, z2, zg, 0., TAU),
                               nt_xent(z1, z2, TAU))


def test_generated_view_forms_agree():
    z1, z2 = _unit(4, 3, seed=1), _unit(4, 3, seed=2)
    g = _unit(2, 4, 3, seed=3)
    stacked = alignment_term(z1, z2, g, ALPHA, TAU)
    torch.testing.assert_close(alignment_term(z1, z2, list(g), ALPHA, TAU),
                               stacked)
    torch.testing.assert_close(alignment_term(z1, z2, g[0], ALPHA, TAU),
                               alignment_term(z1, z2, g[:1], ALPHA, TAU))
    # the 1/|k(i)| factor: the mean of the single-view terms
    torch.testing.assert_close(
        stacked, (alignment_term(z1, z2, g[0], ALPHA, TAU)
                  + alignment_term(z1, z2, g[1], ALPHA, TAU)) / 2)


# --------------------------------------------------------------- invariants
def test_batch_permutation_invariance():
    z1, z2 = _unit(8, 5, seed=1), _unit(8, 5, seed=2)
    g = _unit(2, 8, 5, seed=3)
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    for fn in (lambda a, b, c: cross_view_infonce(a, b, TAU),
               lambda a, b, c: nt_xent(a, b, TAU),
               lambda a, b, c: a2_full_loss(a, b, c, TAU),
               lambda a, b, c: alignment_term(a, b, c, ALPHA, TAU),
               lambda a, b, c: alignment_term(a, b, c, ALPHA, TAU, 'first'),
               lambda a, b, c: a2_simclr_logit_form(a, b, c, ALPHA, TAU)):
        torch.testing.assert_close(fn(z1[perm], z2[perm], g[:, perm]),
                                   fn(z1, z2, g), atol=1e-12, rtol=1e-12)


def test_scale_invariance():
    z1, z2 = _unit(5, 4, seed=1), _unit(5, 4, seed=2)
    g = _unit(5, 4, seed=3)
    s1 = torch.rand(5, 1, dtype=torch.float64) * 10 + 0.1
    s2 = torch.rand(5, 1, dtype=torch.float64) * 10 + 0.1
    for fn in (lambda a, b, c: cross_view_infonce(a, b, TAU),
               lambda a, b, c: nt_xent(a, b, TAU),
               lambda a, b, c: a2_full_loss(a, b, c, TAU),
               lambda a, b, c: alignment_term(a, b, c, ALPHA, TAU)):
        torch.testing.assert_close(fn(s1 * z1, s2 * z2, 3 * g),
                                   fn(z1, z2, g))


def test_alignment_bounds():
    z = _unit(4, 3, seed=1)
    # identical views: +alpha/tau; opposite views: -alpha/tau
    _close(alignment_term(z, z, z, 0.3, 0.2), 0.3 / 0.2, 1e-12)
    _close(alignment_term(z, z, -z, 0.3, 0.2), -0.3 / 0.2, 1e-12)
    for seed in range(5):
        z1, z2, g = (_unit(16, 3, seed=seed * 3 + j) for j in range(3))
        v = float(alignment_term(z1, z2, g, 0.3, 0.2))
        assert -1.5 <= v <= 1.5


def test_generated_rows_never_enter_the_infonce_logits():
    z1, z2 = _unit(6, 4, seed=1), _unit(6, 4, seed=2)
    base = cross_view_infonce(z1, z2, TAU)
    ntx = nt_xent(z1, z2, TAU)
    for seed in range(3):
        g = _unit(6, 4, seed=10 + seed)
        # A2-InfoNCE minus its alignment is the InfoNCE whatever g is
        a2 = base - alignment_term(z1, z2, g, ALPHA, TAU)
        torch.testing.assert_close(
            a2 + alignment_term(z1, z2, g, ALPHA, TAU), base)
        # in the logit form, only the positive logit moves with g: the
        # derivative wrt g is alpha/tau * (z1 + z2) / (2 N) (no softmax)
        g = g.clone().requires_grad_(True)
        a2_simclr_logit_form(z1, z2, g, ALPHA, TAU).backward()
        gn = g.detach()
        proj = torch.eye(4, dtype=gn.dtype) - gn[:, :, None] * gn[:, None]
        want = -(ALPHA / TAU) * torch.einsum(
            'nij,nj->ni', proj, F.normalize(z1) + F.normalize(z2)) / 12
        torch.testing.assert_close(g.grad, want)
        assert float(nt_xent(z1, z2, TAU)) == float(ntx)


def test_gradients_reach_anchors_and_generated_views():
    z1, z2, g = (_unit(4, 3, seed=s).requires_grad_(True) for s in (1, 2, 3))
    (cross_view_infonce(z1, z2, TAU)
     - alignment_term(z1, z2, g, ALPHA, TAU)).backward()
    for t in (z1, z2, g):
        assert t.grad is not None and t.grad.abs().sum() > 0
    # 'first': the alignment gives no gradient to view 2
    z1, z2, g = (_unit(4, 3, seed=s).requires_grad_(True) for s in (1, 2, 3))
    alignment_term(z1, z2, g, ALPHA, TAU, 'first').backward()
    assert z2.grad is None and z1.grad.abs().sum() > 0
    assert g.grad.abs().sum() > 0
    # A2-full: every row is an anchor; finite gradients
    z1, z2, g = (_unit(4, 3, seed=s).requires_grad_(True) for s in (1, 2, 3))
    a2_full_loss(z1, z2, g, TAU).backward()
    for t in (z1, z2, g):
        assert torch.isfinite(t.grad).all() and t.grad.abs().sum() > 0


def test_float32_float64_and_half_agree():
    z1, z2, g = (_unit(6, 8, seed=s) for s in (1, 2, 3))
    for fn in (lambda a, b, c: cross_view_infonce(a, b, TAU),
               lambda a, b, c: nt_xent(a, b, TAU),
               lambda a, b, c: a2_full_loss(a, b, c, TAU),
               lambda a, b, c: alignment_term(a, b, c, ALPHA, TAU)):
        ref = fn(z1, z2, g)
        assert ref.dtype == torch.float64
        f32 = fn(z1.float(), z2.float(), g.float())
        assert f32.dtype == torch.float32
        torch.testing.assert_close(f32.double(), ref, atol=1e-6, rtol=1e-6)
        half = fn(z1.half(), z2.half(), g.half())
        assert half.dtype == torch.float32
        torch.testing.assert_close(half.double(), ref, atol=1e-2, rtol=1e-2)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            auto = fn(z1.float(), z2.float(), g.float())
        assert auto.dtype == torch.float32
        torch.testing.assert_close(auto, f32)


# ------------------------------------------------------------------ errors
def test_bad_inputs_name_the_field():
    z = _unit(4, 3)
    with pytest.raises(ValueError, match=r'z1 must be a \(N, d\)'):
        nt_xent(z[0], z, TAU)
    with pytest.raises(ValueError, match=r'z2 must have the shape of z1'):
        cross_view_infonce(z, z[:3], TAU)
    with pytest.raises(ValueError, match=r'zg must be .*\(k, 4, 3\)'):
        alignment_term(z, z, _unit(2, 5, 3), ALPHA, TAU)
    with pytest.raises(ValueError, match=r'zg\[1\] must be a \(4, 3\)'):
        a2_full_loss(z, z, [z, z[:2]], TAU)
    with pytest.raises(ValueError, match=r'zg must be .*got shape'):
        a2_full_loss(z, z, _unit(1, 1, 4, 3), TAU)
    with pytest.raises(ValueError, match='anchors must be one of'):
        alignment_term(z, z, z, ALPHA, TAU, anchors='both')
    with pytest.raises(ValueError, match="z2 is required with anchors='all'"):
        alignment_term(z, None, z, ALPHA, TAU)
    with pytest.raises(ValueError, match='tau'):
        nt_xent(z, z, 0.)
    with pytest.raises(ValueError, match='alpha must be >= 0'):
        alignment_term(z, z, z, -1., TAU)
    # anchors='first' needs no second view
    _close(alignment_term(z, None, z, ALPHA, TAU, 'first'), ALPHA / TAU)
