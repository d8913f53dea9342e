"""DoRA object discovery, Sinkhorn-Knopp refinement, tracking and masks.

Spec units U5 (Sinkhorn-Knopp) and U6 (multi-object tracker), thesis
Eq. 6.2-6.7.
"""
import numpy as np
import ot
import pytest
import torch
import torch.nn.functional as F

from mmmix.ops import (
    concat_heads,
    discover_prototypes,
    object_masks,
    random_block_masks,
    refine_prototypes,
    sample_heads,
    track_objects,
)


def gen(seed):
    return torch.Generator().manual_seed(seed)


def logits_setup(logits):
    """Prototypes/patches whose similarity matrix is exactly ``logits``.

    With identity patch features (d = n, no normalisation) ``S = P Z^T``
    equals ``P``, so the plan of ``refine_prototypes`` is the plan of the
    given logits.
    """
    b, k, n = logits.shape
    eye = torch.eye(n, dtype=logits.dtype).expand(b, n, n).clone()
    return logits.clone(), eye


def realistic(seed, b=2, k=3, n=196, d=48, dtype=torch.float64):
    g = gen(seed)
    protos = torch.randn(b, k, d, generator=g, dtype=dtype) * 0.5
    feats = torch.randn(b, n, d, generator=g, dtype=dtype)
    return protos, feats


def row_err(plan):
    k = plan.shape[-2]
    return (plan.sum(-1) * k - 1).abs().amax()


# --------------------------------------------------------------- heads
def test_sample_heads_distinct_reproducible_and_checked():
    heads = sample_heads(6, 3, generator=gen(0))
    assert heads.shape == (3, ) and heads.dtype == torch.long
    assert len(set(heads.tolist())) == 3 and heads.max() < 6
    torch.testing.assert_close(heads, sample_heads(6, 3, generator=gen(0)))
    per = sample_heads(6, 4, generator=gen(1), batch=50)
    assert per.shape == (50, 4)
    assert all(len(set(r)) == 4 for r in per.tolist())
    torch.testing.assert_close(per,
                               sample_heads(6, 4, generator=gen(1), batch=50))
    assert not (per == per[0]).all()  # per sample, not shared
    # uniform: each head is drawn with frequency k / h
    draws = sample_heads(6, 3, generator=gen(2), batch=6000)
    freq = torch.bincount(draws.flatten(), minlength=6) / 6000
    torch.testing.assert_close(freq, torch.full((6, ), 0.5), atol=0.03,
                               rtol=0)
    assert sample_heads(6, 6, generator=gen(3)).sort()[0].tolist() == list(
        range(6))
    for bad in (7, 0):
        with pytest.raises(ValueError, match=f'k={bad}.*num_heads=6'):
            sample_heads(6, bad)


# ----------------------------------------------------------- discovery
def test_concat_heads_is_head_major():
    q = torch.randn(2, 6, 5, 8)
    cat = concat_heads(q)
    assert cat.shape == (2, 5, 48)
    for i in range(6):
        torch.testing.assert_close(cat[:, :, i * 8:(i + 1) * 8], q[:, i])
    # the layout of qkv.reshape(B, N, 3, h, dh): q part = first d columns
    lin = torch.randn(2, 5, 3 * 48)
    qs = lin.reshape(2, 5, 3, 6, 8).permute(2, 0, 3, 1, 4)[0]
    torch.testing.assert_close(concat_heads(qs), lin[..., :48])


@pytest.mark.parametrize('per_sample', [False, True])
def test_discover_prototypes_matches_loop(per_sample):
    g = gen(4)
    b, h, n, dh, k = 3, 6, 16, 8, 3
    attn = torch.rand(b, h, n, generator=g)
    q = torch.randn(b, h, n, dh, generator=g)
    heads = sample_heads(h, k, generator=g, batch=b if per_sample else None)
    protos = discover_prototypes(attn, q, heads)
    assert protos.shape == (b, k, h * dh) and protos.dtype == torch.float32
    ref = torch.zeros(b, k, h * dh)
    for i in range(b):
        hs = heads[i] if per_sample else heads
        for j in range(k):
            for p in range(n):
                qcat = torch.cat([q[i, c, p] for c in range(h)])
                ref[i, j] += attn[i, hs[j], p] * qcat
    torch.testing.assert_close(protos, ref, atol=1e-5, rtol=1e-5)
    # einsum form of the official code
    sel = attn[:, heads] if not per_sample else torch.stack(
        [attn[i, heads[i]] for i in range(b)])
    ein = torch.einsum('bkn,bnd->bkd', sel,
                       q.permute(0, 2, 1, 3).reshape(b, n, h * dh))
    torch.testing.assert_close(protos, ein, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError):
        discover_prototypes(attn, q, heads.new_zeros(b + 1, k))


# ---------------------------------------------------------- Sinkhorn-Knopp
def test_sk_marginals_columns_exact_rows_close():
    g = gen(5)
    logits = torch.rand(4, 3, 196, generator=g, dtype=torch.float64) * 0.6
    protos, feats = logits_setup(logits - 0.3)
    refined, plan = refine_prototypes(protos, feats,
                                      normalize_patches=False)
    assert plan.shape == (4, 3, 196) and refined.shape == (4, 3, 196)
    torch.testing.assert_close(plan.sum(1), torch.full(
        (4, 196), 1 / 196, dtype=torch.float64), atol=1e-12, rtol=0)
    assert row_err(plan) < 1e-4
    # the official x n plan (P' with identity features): columns sum to 1
    torch.testing.assert_close(refined.sum(1),
                               torch.ones(4, 196, dtype=torch.float64))
    refined_t, _ = refine_prototypes(protos, feats, normalize_patches=False,
                                     plan_scale='none')
    torch.testing.assert_close(refined_t * 196, refined)
    # float32 inputs: columns exact to rounding
    _, plan32 = refine_prototypes(protos.float(), feats.float(),
                                  normalize_patches=False)
    assert plan32.dtype == torch.float32
    torch.testing.assert_close(plan32.sum(1), torch.full((4, 196), 1 / 196),
                               atol=0, rtol=1e-5)


def test_sk_row_error_decreases_with_iterations():
    protos, feats = realistic(6)
    errs = [
        float(row_err(refine_prototypes(protos, feats, num_iters=it)[1]))
        for it in (10, 30, 100, 300)
    ]
    assert errs[1] > 1e-4  # realistic spread: rows are off after 30 its
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[-1] < 1e-6


def test_sk_scaling_form():
    # log M* - S / eps = f_i + g_j: a rank-one (additive) residual
    protos, feats = realistic(7)
    _, plan = refine_prototypes(protos, feats)
    sim = protos @ F.normalize(feats, dim=-1).transpose(1, 2)
    res = plan.log() - sim / 0.05
    res = res - res.mean(-1, keepdim=True) - res.mean(-2, keepdim=True) + \
        res.mean((-1, -2), keepdim=True)
    assert res.abs().max() < 1e-9


def test_sk_invariant_to_constant_shift():
    protos, feats = realistic(8, n=16, d=12)
    # an extra feature of 1 and a prototype entry c add c to every S_ij
    c = 0.7
    p2 = torch.cat([protos, torch.full((2, 3, 1), c, dtype=protos.dtype)],
                   -1)
    z2 = torch.cat([feats, torch.ones(2, 16, 1, dtype=feats.dtype)], -1)
    p0 = torch.cat([protos, torch.zeros(2, 3, 1, dtype=protos.dtype)], -1)
    _, plan_c = refine_prototypes(p2, z2, normalize_patches=False)
    _, plan_0 = refine_prototypes(p0, z2, normalize_patches=False)
    torch.testing.assert_close(plan_c, plan_0, atol=1e-12, rtol=1e-9)


def test_sk_permutation_equivariance():
    protos, feats = realistic(9, n=40)
    refined, plan = refine_prototypes(protos, feats)
    perm_n = torch.randperm(40, generator=gen(10))
    r_n, plan_n = refine_prototypes(protos, feats[:, perm_n])
    torch.testing.assert_close(plan_n, plan[:, :, perm_n])
    torch.testing.assert_close(r_n, refined)
    perm_k = torch.tensor([2, 0, 1])
    r_k, plan_k = refine_prototypes(protos[:, perm_k], feats)
    torch.testing.assert_close(plan_k, plan[:, perm_k])
    torch.testing.assert_close(r_k, refined[:, perm_k])


@pytest.mark.parametrize('seed', [11, 12])
def test_sk_matches_pot_reference(seed):
    protos, feats = realistic(seed, n=64)
    _, plan = refine_prototypes(protos, feats, num_iters=1000)
    _, plan32 = refine_prototypes(protos.float(), feats.float(),
                                  num_iters=1000)
    sim = protos @ F.normalize(feats, dim=-1).transpose(1, 2)
    k, n = sim.shape[1:]
    for i in range(sim.shape[0]):
        ref = ot.sinkhorn(np.full(k, 1 / k), np.full(n, 1 / n),
                          -sim[i].numpy(), reg=0.05, method='sinkhorn_log',
                          numItermax=1000, stopThr=1e-15)
        np.testing.assert_allclose(plan[i].numpy(), ref, rtol=1e-6,
                                   atol=1e-10)
        np.testing.assert_allclose(plan32[i].numpy(), ref, rtol=1e-3,
                                   atol=1e-7)


def test_sk_code_faithful_30_iterations():
    # the official SinkhornKnopp (exp, normalise rows then columns) in
    # float64, where nothing underflows, gives the same plan
    protos, feats = realistic(13)
    refined, plan = refine_prototypes(protos, feats)
    z = F.normalize(feats, dim=-1)
    q = torch.exp((protos @ z.transpose(1, 2)) / 0.05)
    q = q / q.sum((1, 2), keepdim=True)
    k, n = q.shape[1:]
    for _ in range(30):
        q = q / q.sum(2, keepdim=True) / k
        q = q / q.sum(1, keepdim=True) / n
    torch.testing.assert_close(plan, q, rtol=1e-9, atol=1e-15)
    torch.testing.assert_close(refined, (n * q) @ z)


def test_sk_stable_for_fp16_and_spread_logits():
    g = gen(14)
    protos = (torch.randn(2, 3, 48, generator=g) * 8).half()
    feats = torch.randn(2, 196, 48, generator=g).half()
    refined, plan = refine_prototypes(protos, feats)
    assert refined.dtype == plan.dtype == torch.float32
    assert torch.isfinite(refined).all() and torch.isfinite(plan).all()
    # float32 rounding of the columns grows with |S| / eps (here ~1e3)
    torch.testing.assert_close(plan.sum(1), torch.full((2, 196), 1 / 196),
                               atol=0, rtol=2e-4)
    # one prototype's similarities 10 below the others at eps = 0.05
    base = torch.rand(2, 3, 196, generator=g) * 0.5
    base[:, 0] = base[:, 1] - 10
    protos, feats = logits_setup(base)
    naive = torch.exp((base - base.amax((1, 2), keepdim=True)) / 0.05)
    assert (naive[:, 0] == 0).all()  # a plain exp underflows the row
    refined, plan = refine_prototypes(protos, feats,
                                      normalize_patches=False)
    assert torch.isfinite(refined).all() and torch.isfinite(plan).all()
    assert (plan[:, 0].sum(-1) > 0.3).all()  # the row still gets its mass
    # autocast around the call does not change anything
    with torch.autocast('cpu', dtype=torch.bfloat16):
        r_ac, plan_ac = refine_prototypes(protos, feats,
                                          normalize_patches=False)
    assert plan_ac.dtype == torch.float32
    torch.testing.assert_close(plan_ac, plan)


def test_sk_batched_equals_per_sample():
    protos, feats = realistic(15, b=4, n=32)
    refined, plan = refine_prototypes(protos, feats)
    for i in range(4):
        r_i, p_i = refine_prototypes(protos[i:i + 1], feats[i:i + 1])
        torch.testing.assert_close(p_i[0], plan[i], rtol=1e-12, atol=1e-15)
        torch.testing.assert_close(r_i[0], refined[i])


# ------------------------------------------------------------- tracking
def test_track_rows_sum_to_one_and_eq_6_3_without_sk():
    g = gen(16)
    b, t, h, n, dh, k = 2, 3, 6, 16, 8, 3
    attn = torch.rand(b, h, n, generator=g)
    q = torch.randn(b, h, n, dh, generator=g)
    keys = torch.randn(b, t, n, h * dh, generator=g)
    heads = sample_heads(h, k, generator=g)
    protos = discover_prototypes(attn, q, heads)
    track = track_objects(protos, keys)  # use_sk=False: Eq. 6.3
    assert track.shape == (b, t, k, n)
    torch.testing.assert_close(track.sum(-1), torch.ones(b, t, k))
    d = h * dh
    for i in range(b):
        for f in range(t):
            ref = torch.softmax(protos[i] @ keys[i, f].T / d**0.5, dim=-1)
            torch.testing.assert_close(track[i, f], ref)
    one = track_objects(protos, keys[:, 1])
    torch.testing.assert_close(one, track[:, 1])
    with torch.autocast('cpu', dtype=torch.bfloat16):
        ac = track_objects(protos.bfloat16(), keys.bfloat16(), scale=0.1)
    assert ac.dtype == torch.float32 and torch.isfinite(ac).all()


# ----------------------------------------------------------------- masks
def test_masks_binary_nearest_blocks():
    g = gen(17)
    track = torch.softmax(torch.randn(2, 3, 3, 16, generator=g) * 3, -1)
    masks, stats = object_masks(track, (4, 4), 16)
    assert masks.shape == (2, 3, 3, 1, 64, 64)
    assert masks.dtype == torch.float32
    assert set(masks.unique().tolist()) <= {0.0, 1.0}
    patches = masks[..., ::16, ::16]
    up = F.interpolate(patches.flatten(0, 2), scale_factor=16,
                       mode='nearest').view_as(masks)
    torch.testing.assert_close(masks, up)  # constant on each 16x16 block
    blocks = masks.view(2, 3, 3, 4, 16, 4, 16)
    assert (blocks.amax((4, 6)) == blocks.amin((4, 6))).all()
    for key in ('empty_rate', 'coverage', 'union', 'overlap'):
        assert stats[key].dim() == 0 and stats[key].dtype == torch.float32
    torch.testing.assert_close(stats['coverage'], masks.mean())
    assert 0 < stats['coverage'] < 1


def test_mask_threshold_modes_hand_made():
    # frame 0, object 0; sample 0 is flat-ish, sample 1 peaked
    track = torch.tensor([[0.22, 0.25, 0.26, 0.27],
                          [0.97, 0.01, 0.01, 0.01]]).view(2, 1, 1, 4)
    sample, _ = object_masks(track, (2, 2), 1, mode='binary_sample_mean')
    assert sample.flatten(1).tolist() == [[0, 0, 1, 1], [1, 0, 0, 0]]
    # batch mean of the L2-normalised rows: ~ (2.0 + 1.03) / 8 = 0.379, so
    # every entry of the flat row (r ~ 0.43-0.53) is on
    r = F.normalize(track, dim=-1)
    assert 0.37 < float(r.mean()) < 0.39
    batch, _ = object_masks(track, (2, 2), 1, mode='binary_batch_mean')
    assert batch.flatten(1).tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]
    soft, stats = object_masks(track, (2, 2), 1, mode='soft')
    torch.testing.assert_close(soft.flatten(1),
                               (track / track.amax(-1, keepdim=True)).view(
                                   2, 4))
    assert soft.max() == 1 and float(stats['empty_rate']) == 0
    # thresholds are per frame and per object, and masks upsample to pixels
    two = torch.cat([track, track.flip(0)], 2)  # (2, 1, 2, 4)
    m, _ = object_masks(two, (2, 2), 3, mode='binary_batch_mean')
    assert m.shape == (2, 1, 2, 1, 6, 6)
    torch.testing.assert_close(m[:, :, :1], batch.repeat_interleave(
        3, -1).repeat_interleave(3, -2))
    torch.testing.assert_close(m[:, :, 1], m[:, :, 0].flip(0))
    with pytest.raises(ValueError):
        object_masks(track, (3, 2), 1)
    with pytest.raises(ValueError):
        object_masks(track, (2, 2), 1, mode='nope')


@pytest.mark.parametrize('mode', ['binary_sample_mean', 'binary_batch_mean'])
@pytest.mark.parametrize('n', [16, 196])
def test_empty_mask_guard(mode, n):
    # object 0: uniform rows in both samples (r > mean never holds);
    # object 1: uniform in sample 0, peaked in sample 1
    track = torch.full((2, 1, 2, n), 1 / n)
    track[1, 0, 1] = torch.softmax(torch.arange(n, dtype=torch.float), 0)
    side = int(n**0.5)
    guarded, stats = object_masks(track, (side, side), 2, mode=mode)
    pm = guarded[..., ::2, ::2].flatten(3)[:, 0]  # (2 samples, 2 obj, n)
    # per-sample thresholds: 3 empty masks; batch threshold: the peaked
    # row pulls object 1's mean down, so only object 0's two are empty
    sample_mode = mode == 'binary_sample_mean'
    assert float(stats['empty_rate']) == (0.75 if sample_mode else 0.5)
    assert (pm[:, 0].sum(-1) == 1).all()  # guard: exactly one patch
    assert (pm[:, 0, 0] == 1).all()  # the arg-max (first) patch
    assert pm[0, 1].sum() == (1 if sample_mode else n)
    assert pm[1, 1, -1] == 1 and pm[1, 1].sum() < n / 2
    bare, stats_b = object_masks(track, (side, side), 2, mode=mode,
                                 keep_argmax=False)
    pb = bare[..., ::2, ::2].flatten(3)[:, 0]
    assert torch.isfinite(bare).all()
    assert (pb[:, 0] == 0).all()  # empty stays empty
    assert pb[0, 1].sum() == (0 if sample_mode else n)
    torch.testing.assert_close(pb[1, 1], pm[1, 1])
    assert stats_b['empty_rate'] == stats['empty_rate']
    assert stats_b['coverage'] < stats['coverage']
    assert torch.isfinite(stats_b['coverage'])


def test_soft_mask_zero_row_is_finite():
    track = torch.zeros(1, 1, 2, 4)
    track[0, 0, 1, 2] = 0.5
    soft, _ = object_masks(track, (2, 2), 1, mode='soft')
    assert torch.isfinite(soft).all() and soft[0, 0, 0].sum() == 0
    assert soft.flatten().tolist()[4:] == [0, 0, 1, 0]


# ------------------------------------------------------ functional test
def moving_groups(t):
    """Patch indices (4x4 grid) of the 3 groups in frame t."""
    return [[0 * 4 + t, 0 * 4 + t + 1],  # row 0, moving right
            [2 * 4 + t, 2 * 4 + t + 1],  # row 2, moving right
            [3 * 4 + 3 - t, 3 * 4 + 2 - t]]  # row 3, moving left


@pytest.mark.parametrize('use_sk, plan_scale', [(True, 'n'),
                                                (True, 'none'),
                                                (False, None)])
def test_tracking_follows_moving_groups(use_sk, plan_scale):
    g = gen(18)
    b, t_len, h, dh, n = 2, 3, 6, 8, 16
    d = h * dh
    basis = torch.eye(d)
    noise = 0.01
    # keys: group g patches along e_g; background along e_4
    keys = torch.zeros(b, t_len, n, d)
    keys[:] = 3 * basis[4]
    for f in range(t_len):
        for grp, idx in enumerate(moving_groups(f)):
            keys[:, f, idx] = 3 * basis[grp]
    keys += noise * torch.randn(keys.shape, generator=g)
    # frame 0 queries and output features: group g along e_g, background
    # queries along e_4 and outputs along e_5
    q_cat = basis[4].expand(b, n, d).clone()
    feats = basis[5].expand(b, n, d).clone()
    for grp, idx in enumerate(moving_groups(0)):
        q_cat[:, idx] = basis[grp]
        feats[:, idx] = basis[grp]
    feats += noise * torch.randn(feats.shape, generator=g)
    q = q_cat.view(b, n, h, dh).transpose(1, 2)  # (b, h, n, dh)
    # heads 0-2 attend to group 0-2 in frame 0, the others uniformly
    attn = torch.full((b, h, n), 0.5 / n)
    for grp, idx in enumerate(moving_groups(0)):
        attn[:, grp] = 0.01
        attn[:, grp, idx] = 0.4
    heads = torch.tensor([0, 1, 2])
    protos = discover_prototypes(attn, q, heads)
    if use_sk:
        protos, _ = refine_prototypes(protos, feats, plan_scale=plan_scale)
    track = track_objects(protos, keys)
    masks, stats = object_masks(track, (4, 4), 16, keep_argmax=False)
    assert float(stats['empty_rate']) == 0
    owner = track.argmax(2)  # (b, t, n): object with the largest response
    for f in range(t_len):
        for grp, idx in enumerate(moving_groups(f)):
            assert (owner[:, f, idx] == grp).all()
            expect = torch.zeros(n)
            expect[idx] = 1
            got = masks[:, f, grp, 0, ::16, ::16].flatten(1)
            torch.testing.assert_close(got, expect.expand(b, n))
    assert float(stats['overlap']) == 0


# --------------------------------------------------------- block masks
def test_random_block_masks():
    masks = random_block_masks(40, 3, (14, 14), 4, generator=gen(19))
    assert masks.shape == (40, 3, 1, 56, 56) and masks.dtype == torch.float32
    assert set(masks.unique().tolist()) == {0.0, 1.0}
    blocks = masks.view(40, 3, 14, 4, 14, 4)
    assert (blocks.amax((3, 5)) == blocks.amin((3, 5))).all()
    cover = masks.mean((2, 3, 4))
    assert (cover > 0).all() and (cover <= 0.5 + 1e-6).all()
    assert 0.1 <= float(cover.mean()) <= 0.5
    assert cover.std() > 0.03  # the target ratio varies per mask
    torch.testing.assert_close(
        masks, random_block_masks(40, 3, (14, 14), 4, generator=gen(19)))
    assert not torch.equal(
        masks, random_block_masks(40, 3, (14, 14), 4, generator=gen(20)))
    tiny = random_block_masks(8, 3, (4, 4), 16, generator=gen(21))
    assert tiny.shape == (8, 3, 1, 64, 64)
    assert (tiny.flatten(2).amax(-1) == 1).all()  # never empty
    with pytest.raises(ValueError):
        random_block_masks(2, 3, (4, 4), 16, ratio=(0.6, 0.2))
