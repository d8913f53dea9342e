"""DoRA (spec U7, U8, the integration part of U6) with a tiny ViT (48-d, 2
layers, 6 heads, patch 16: a 4 x 4 grid on 64 px global views, 2 x 2 on
32 px local crops), K = 128, on clips of B = 2, T = 3 with k = 3 objects
and m = 2 local crops.

What the student sees (k masked crops per global view, B T rows each, never
an unmasked global crop; masked pixels exactly 0 after the normalisation,
the others the input; masks constant on each patch), the loss against a
hand computation of Eq. 6.8-6.10 in the three normalisations (one and two
global views), gradients, the loss centre (once per ``loss()``, from the
raw teacher logits of all g B T rows), DoRA* (images = clips of one frame,
tracked with the keys of the same image), head subsets shared by the two
views, the mask / Sinkhorn-Knopp / loss variants, bf16 autocast, argument
checks, and tracking through ``DoRA.object_masks`` on synthetic attention
tensors where 3 groups of patches move by one patch per frame.
"""
import copy
import math

import pytest
import torch
from mmpretrain.structures import DataSample

import mmmix.models.selfsup.dora as dora_mod
from mmmix.models.selfsup import DoRA
from mmmix.ops.dino import dora_pair_weights
from mmmix.ops.object_tracking import concat_heads
from mmmix.ops.object_tracking import object_masks as ops_object_masks
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

K = 128
B, T, NUM_OBJ, NUM_LOCAL = 2, 3, 3, 2
G_SIZE, L_SIZE, P = 64, 32, 16
GRID = G_SIZE // P  # 4 x 4 patches
N = GRID * GRID
HEADS, DH = 6, 8
D = HEADS * DH
VIT = dict(type='VisionTransformer',
           arch=dict(embed_dims=D, num_layers=2, num_heads=HEADS,
                     feedforward_channels=96),
           img_size=G_SIZE, patch_size=P, drop_path_rate=0.1,
           out_type='raw')
MEAN = [123.675, 116.28, 103.53]
STD = [58.395, 57.12, 57.375]


def _cfg(backbone=VIT, **kw):
    cfg = dict(
        type='mmmix.DoRA', backbone=copy.deepcopy(backbone),
        num_objects=NUM_OBJ,
        head=dict(type='mmmix.DINOHead', in_channels=D, out_channels=K,
                  hidden_channels=64, bottleneck_channels=32,
                  norm_last_layer=False),
        loss=dict(type='mmmix.DINOLoss', out_channels=K))
    cfg.update(kw)
    return cfg


def _build(seed=0, **kw):
    torch.manual_seed(seed)
    model = MODELS.build(_cfg(**kw))
    model.train()
    return model


def _clips(g=1, b=B, t=T, m=NUM_LOCAL, seed=1):
    """``[global..., local...]`` normalised clip views ``(B, T, 3, H, W)``
    (no exact zeros, so a 0 in a student view is a masked pixel)."""
    gen = torch.Generator().manual_seed(seed)
    views = [torch.randn(b, t, 3, G_SIZE, G_SIZE, generator=gen)
             for _ in range(g)]
    views += [torch.randn(b, t, 3, L_SIZE, L_SIZE, generator=gen)
              for _ in range(m)]
    for v in views:
        v[v == 0] = 0.5
    return views


def _samples(b=B):
    return [DataSample() for _ in range(b)]


@pytest.fixture(autouse=True)
def _message_hub(hub):
    """Every test runs with max_iters / epoch set (conftest's hub)."""
    return hub


class Spy:
    """Record what ``student_logits``, ``object_masks`` and the teacher pass
    of a model get and give."""

    def __init__(self, model):
        self.views, self.s_logits, self.masks = [], [], []
        self.teacher_rows, self.student_rows = [], []
        orig_student = model.student_logits
        orig_masks = model.object_masks

        def student_logits(views):
            self.views.append([v.detach().clone() for v in views])
            out = orig_student(views)
            self.s_logits.append(out.detach().clone())
            return out

        def object_masks(*args, **kwargs):
            masks, stats = orig_masks(*args, **kwargs)
            self.masks.append(masks.clone())
            return masks, stats

        model.student_logits = student_logits
        model.object_masks = object_masks
        model.teacher_backbone.register_forward_pre_hook(
            lambda mod, args: self.teacher_rows.append(args[0].shape[0]))
        model.backbone.register_forward_pre_hook(
            lambda mod, args: self.student_rows.append(args[0].shape[0]))


def _teacher_logits(model, glob):
    """The teacher's raw logits of global views ``(g, B, T, C, H, W)``,
    recomputed outside ``loss()`` (after its EMA update)."""
    with torch.no_grad():
        tokens = model.teacher_backbone(glob.flatten(0, 2))[-1]
        z = model.target_net.module[-1](tokens[:, 0])
    return z.view(glob.shape[0], -1, K)


def _ce(q, s_logits, student_temp=0.1):
    """Mean over rows of H(q, softmax(s / tau_s))."""
    return -(q * torch.log_softmax(s_logits / student_temp, -1)).sum(
        -1).mean()


def _check_block_constant(mask):
    """``(..., H, W)`` is constant on every P x P block."""
    blocks = mask.reshape(*mask.shape[:-2], GRID, P, GRID, P)
    ref = blocks[..., :1, :, :1]
    assert torch.equal(blocks, ref.expand_as(blocks))


# ------------------------------------------------------- what the student sees
@pytest.mark.parametrize('g', [1, 2])
def test_student_sees_k_masked_crops_per_global_view(g):
    model = _build(num_global_views=g)
    spy = Spy(model)
    views = _clips(g=g)
    out = model.loss(views, _samples())
    assert torch.isfinite(out['loss'])
    assert {'loss', 'teacher_entropy', 'teacher_mean_entropy',
            'mask_coverage', 'mask_empty_rate'} <= set(out)
    # one teacher pass over the g B T global frames
    assert spy.teacher_rows == [g * B * T]
    # the student: g k masked crops of B T rows, then the m local crops
    (seen, ) = spy.views
    assert len(seen) == g * NUM_OBJ + NUM_LOCAL
    for x in seen[:g * NUM_OBJ]:
        assert x.shape == (B * T, 3, G_SIZE, G_SIZE)
    for x in seen[g * NUM_OBJ:]:
        assert x.shape == (B * T, 3, L_SIZE, L_SIZE)
    # equal-size views share a forward: one of g k B T rows, one of m B T
    assert spy.student_rows == [g * NUM_OBJ * B * T, NUM_LOCAL * B * T]
    assert spy.s_logits[0].shape == (g * NUM_OBJ + NUM_LOCAL, B * T, K)
    # the local crops are passed as they are
    for x, ref in zip(seen[g * NUM_OBJ:], views[g:]):
        assert torch.equal(x, ref.flatten(0, 1))
    # never an unmasked global crop: every row of every masked crop lost a
    # patch, and kept one (the arg-max guard)
    for x in seen[:g * NUM_OBJ]:
        for ref in views[:g]:
            assert not torch.equal(x, ref.flatten(0, 1))
        zero = (x == 0).flatten(1)
        assert zero.any(1).all() and (~zero).any(1).all()


@pytest.mark.parametrize('g', [1, 2])
def test_masked_pixels_zero_others_equal_input(g):
    model = _build(num_global_views=g)
    spy = Spy(model)
    views = _clips(g=g)
    model.loss(views, _samples())
    (masks, ) = spy.masks
    assert masks.shape == (g, B, T, NUM_OBJ, 1, G_SIZE, G_SIZE)
    assert set(masks.unique().tolist()) <= {0., 1.}
    _check_block_constant(masks)
    seen = spy.views[0]
    for v in range(g):
        glob = views[v].flatten(0, 1)  # (B T, C, H, W), rows (b, t)
        for i in range(NUM_OBJ):
            x = seen[v * NUM_OBJ + i]
            m = masks[v, :, :, i].flatten(0, 1)  # (B T, 1, H, W)
            keep = m.expand_as(x).bool()
            assert torch.equal(x[keep], glob[keep])
            assert (x[~keep] == 0).all()
            # zero exactly where the mask is off, on all channels
            assert torch.equal(x == 0, ~keep)
            _check_block_constant(x == 0)


def test_masking_after_normalisation_through_the_preprocessor():
    """uint8 clips through ``VideoSelfSupDataPreprocessor``: the masked
    pixels are 0 (the mean colour), not the normalised black, and the kept
    ones are ``(x - mean) / std``."""
    model = _build(data_preprocessor=dict(
        type='mmmix.VideoSelfSupDataPreprocessor', mean=MEAN, std=STD,
        to_rgb=False))
    spy = Spy(model)
    gen = torch.Generator().manual_seed(2)
    raw = [torch.randint(1, 255, (B, T, 3, s, s), generator=gen,
                         dtype=torch.uint8)
           for s in (G_SIZE, L_SIZE, L_SIZE)]
    data = model.data_preprocessor(
        dict(inputs=raw, data_samples=_samples()), True)
    out = model(**data, mode='loss')
    assert torch.isfinite(out['loss'])
    mean = torch.tensor(MEAN).view(3, 1, 1)
    std = torch.tensor(STD).view(3, 1, 1)
    glob = (raw[0].flatten(0, 1).float() - mean) / std
    (masks, ) = spy.masks
    for i in range(NUM_OBJ):
        x = spy.views[0][i]
        keep = masks[0, :, :, i].flatten(0, 1).expand_as(x).bool()
        torch.testing.assert_close(x[keep], glob[keep], rtol=0, atol=1e-6)
        assert (x[~keep] == 0).all()
        assert not (~keep).all() and (~keep).any()


@pytest.mark.parametrize('g', [1, 2])
def test_no_objects_student_gets_the_global_crops(g):
    model = _build(num_objects=0, num_global_views=g)
    spy = Spy(model)
    views = _clips(g=g)
    out = model.loss(views, _samples())
    assert torch.isfinite(out['loss'])
    assert not spy.masks and 'mask_coverage' not in out
    seen = spy.views[0]
    assert len(seen) == g + NUM_LOCAL
    for x, ref in zip(seen, views):
        assert torch.equal(x, ref.flatten(0, 1))
    # one view: the teacher's own view is paired with the student's
    # (k = 1 "object" = the unmasked crop)
    weights = dora_pair_weights(g, 1, NUM_LOCAL, 'clean', T)
    assert weights.shape == (g, g + NUM_LOCAL)


# -------------------------------------------------------------- the loss
def _hand_loss(teacher, student, g, k, m, mode, center, temp=0.04):
    """Eq. 6.8-6.10 by explicit loops over pairs (rows = (b, t) pairs).

    teacher ``(g, R, K)`` raw logits, student ``(g k + m, R, K)`` raw
    logits ordered ``[(v, i) for v for i] + locals``.
    """
    q = torch.softmax((teacher - center) / temp, -1)
    obj = {(u, v, i): _ce(q[u], student[v * k + i])
           for u in range(g) for v in range(g) for i in range(k)
           if (u != v or g == 1)}
    loc = {(u, j): _ce(q[u], student[g * k + j])
           for u in range(g) for j in range(m)}
    if mode == 'clean':
        return 0.5 * (sum(obj.values()) / len(obj) +
                      sum(loc.values()) / len(loc))
    if mode == 'thesis_sum':
        return sum(obj.values()) + sum(loc.values())
    # legacy_code: the released code's loop (spec 3.11), one view
    assert mode == 'legacy_code' and g == 1
    rows = torch.arange(q.shape[1])
    f = total = 0.
    for i in range(k):
        for t in range(T):
            sel = rows[t::T]  # frame t of every clip
            qt = q[0, sel]
            mask_it = _ce(qt, student[i, sel])
            loc_t = sum(_ce(qt, student[k + j, sel])
                        for j in range(1, m)) / (m - 1)
            f = f + 0.5 * (mask_it + loc_t)
        f = f / T
        total = total + f
    return total / k


@pytest.mark.parametrize('g, mode', [(1, 'clean'), (2, 'clean'),
                                     (1, 'thesis_sum'), (2, 'thesis_sum'),
                                     (1, 'legacy_code')])
def test_loss_matches_hand_computation(g, mode):
    model = _build(num_global_views=g, loss_mode=mode)
    center = 0.3 * torch.randn(1, K, generator=torch.Generator().manual_seed(
        4))
    model.dino_loss.center.copy_(center)
    spy = Spy(model)
    views = _clips(g=g)
    out = model.loss(views, _samples())
    teacher = _teacher_logits(model, torch.stack(views[:g]))
    expect = _hand_loss(teacher, spy.s_logits[0], g, NUM_OBJ, NUM_LOCAL,
                        mode, center)
    torch.testing.assert_close(out['loss'], expect, rtol=1e-5, atol=1e-5)


def test_centre_updated_once_from_raw_teacher_logits_of_all_rows(
        monkeypatch):
    g = 2
    model = _build(num_global_views=g)
    c0 = torch.randn(1, K, generator=torch.Generator().manual_seed(5))
    model.dino_loss.center.copy_(c0)
    calls = []
    orig = model.dino_loss.update_center

    def update_center(z):
        calls.append(z.detach().clone())
        return orig(z)

    monkeypatch.setattr(model.dino_loss, 'update_center', update_center)
    views = _clips(g=g)
    model.loss(views, _samples())
    assert len(calls) == 1
    z = _teacher_logits(model, torch.stack(views[:g]))  # (g, B T, K)
    torch.testing.assert_close(calls[0].reshape(-1, K), z.reshape(-1, K))
    assert calls[0].reshape(-1, K).shape[0] == g * B * T
    expect = 0.9 * c0 + 0.1 * z.reshape(-1, K).mean(0, keepdim=True)
    torch.testing.assert_close(model.dino_loss.center, expect)
    # the same as DINOLoss.update_center on those logits
    ref = MODELS.build(dict(type='mmmix.DINOLoss', out_channels=K))
    ref.center.copy_(c0)
    ref.update_center(z)
    torch.testing.assert_close(model.dino_loss.center, ref.center)
    # a second call: one more update
    model.loss(views, _samples())
    assert len(calls) == 2


def test_gradients_reach_the_student_not_the_teacher():
    model = _build()
    out = model.loss(_clips(), _samples())
    out['loss'].backward()
    student = dict(model._student_net().named_parameters())
    assert all(p.requires_grad for p in student.values())
    missing = [n for n, p in student.items()
               if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing
    for name, p in model.target_net.named_parameters():
        assert not p.requires_grad and p.grad is None, name
    for key in ('teacher_entropy', 'teacher_mean_entropy', 'mask_coverage'):
        assert not out[key].requires_grad


def test_loss_finite_over_iterations_with_an_optimizer():
    model = _build()
    opt = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad], lr=1e-3)
    teacher0 = {k: v.clone()
                for k, v in model.target_net.module.state_dict().items()}
    centres = [model.dino_loss.center.clone()]
    for it in range(3):
        out = model.loss(_clips(seed=10 + it), _samples())
        for key, val in out.items():
            assert torch.isfinite(val).all(), (it, key, val)
        opt.zero_grad()
        out['loss'].backward()
        opt.step()
        centres.append(model.dino_loss.center.clone())
    assert int(model.target_net.steps) == 3
    # the teacher moved towards the trained student, the centre each step
    assert any(not torch.equal(v, teacher0[k]) for k, v in
               model.target_net.module.state_dict().items())
    assert all(not torch.equal(a, b) for a, b in zip(centres, centres[1:]))


# ------------------------------------------------------------ DoRA* (U8)
@pytest.mark.parametrize('g', [1, 2])
def test_images_equal_clips_of_one_frame(g):
    model = _build(num_global_views=g)
    clone = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(6)
    images = [torch.randn(B, 3, G_SIZE, G_SIZE, generator=gen)
              for _ in range(g)]
    images += [torch.randn(B, 3, L_SIZE, L_SIZE, generator=gen)
               for _ in range(NUM_LOCAL)]
    spy_img, spy_clip = Spy(model), Spy(clone)
    torch.manual_seed(7)
    out_img = model.loss(images, _samples())
    torch.manual_seed(7)
    out_clip = clone.loss([x.unsqueeze(1) for x in images], _samples())
    assert set(out_img) == set(out_clip)
    for key in out_img:
        torch.testing.assert_close(out_img[key], out_clip[key], rtol=0,
                                   atol=0)
    assert torch.equal(spy_img.masks[0], spy_clip.masks[0])
    assert spy_img.masks[0].shape == (g, B, 1, NUM_OBJ, 1, G_SIZE, G_SIZE)
    torch.testing.assert_close(model.dino_loss.center,
                               clone.dino_loss.center, rtol=0, atol=0)


def test_images_are_tracked_with_their_own_keys(monkeypatch):
    """DoRA*: the tracking keys of each image are its own last-block keys
    (one frame per image), and the prototypes come from the same image."""
    g = 2
    model = _build(num_global_views=g)
    attn = model.teacher_backbone.layers[-1].attn
    inputs = []
    attn.register_forward_pre_hook(
        lambda mod, args: inputs.append(args[0].detach()))
    seen = {}
    orig_track = dora_mod.track_objects
    orig_discover = dora_mod.discover_prototypes

    def track(protos, keys):
        seen['keys'] = keys
        return orig_track(protos, keys)

    def discover(cls_attn, q, heads):
        seen['q'] = q
        return orig_discover(cls_attn, q, heads)

    monkeypatch.setattr(dora_mod, 'track_objects', track)
    monkeypatch.setattr(dora_mod, 'discover_prototypes', discover)
    gen = torch.Generator().manual_seed(8)
    images = [torch.randn(B, 3, G_SIZE, G_SIZE, generator=gen)
              for _ in range(g)]
    images += [torch.randn(B, 3, L_SIZE, L_SIZE, generator=gen)]
    model.loss(images, _samples())
    (u, ) = inputs  # the teacher's last-block input: (g B, N, d)
    assert u.shape == (g * B, N + 1, D)
    qkv = attn.qkv(u).reshape(g * B, N + 1, 3, HEADS, DH).permute(
        2, 0, 3, 1, 4)
    keys = concat_heads(qkv[1][:, :, 1:])  # (g B, n, d)
    assert seen['keys'].shape == (g * B, 1, N, D)
    torch.testing.assert_close(seen['keys'][:, 0], keys)
    torch.testing.assert_close(seen['q'], qkv[0][:, :, 1:])


# ------------------------------------------------------------- head subsets
def test_head_subset_drawn_once_and_shared_by_the_views(monkeypatch):
    calls, used = [], []
    orig_sample = dora_mod.sample_heads
    orig_discover = dora_mod.discover_prototypes

    def sample(*args, **kwargs):
        calls.append((args, kwargs))
        return orig_sample(*args, **kwargs)

    def discover(cls_attn, q, heads):
        used.append(heads.clone())
        return orig_discover(cls_attn, q, heads)

    monkeypatch.setattr(dora_mod, 'sample_heads', sample)
    monkeypatch.setattr(dora_mod, 'discover_prototypes', discover)
    model = _build(num_global_views=2, head_sampling='batch')
    model.loss(_clips(g=2), _samples())
    assert len(calls) == 1
    args, kwargs = calls[0]
    assert args == (HEADS, NUM_OBJ) and kwargs.get('batch') is None
    # one (k,) subset for all the g B clips of both views
    assert len(used) == 1 and used[0].shape == (NUM_OBJ, )
    assert len(set(used[0].tolist())) == NUM_OBJ
    # per sample: one draw of B subsets, the same for both views of a clip
    calls.clear()
    used.clear()
    model = _build(num_global_views=2, head_sampling='sample')
    model.loss(_clips(g=2), _samples())
    assert len(calls) == 1 and calls[0][1].get('batch') == B
    (heads, ) = used
    assert heads.shape == (2 * B, NUM_OBJ)
    assert torch.equal(heads[:B], heads[B:])
    for row in heads.tolist():
        assert len(set(row)) == NUM_OBJ and max(row) < HEADS
    # a new draw per iteration
    model = _build(num_global_views=2, head_sampling='batch')
    used.clear()
    torch.manual_seed(0)
    for _ in range(8):
        model.loss(_clips(g=2), _samples())
    assert len({tuple(h.tolist()) for h in used}) > 1


# -------------------------------------------------------------- variants
@pytest.mark.parametrize('g', [1, 2])
@pytest.mark.parametrize('mode', ['binary_batch_mean', 'binary_sample_mean'])
def test_binary_threshold_modes_per_view(monkeypatch, g, mode):
    """The masks are the ops' ``object_masks`` of each view's tracking maps:
    with two views the batch-mean threshold is taken per view (the code's
    per-GPU batch of one view)."""
    tracks = []
    orig = dora_mod.track_objects

    def track(protos, keys):
        out = orig(protos, keys)
        tracks.append(out)
        return out

    monkeypatch.setattr(dora_mod, 'track_objects', track)
    model = _build(num_global_views=g, mask_mode=mode)
    spy = Spy(model)
    out = model.loss(_clips(g=g), _samples())
    assert torch.isfinite(out['loss'])
    (masks, ) = spy.masks
    track = tracks[0].view(g, B, T, NUM_OBJ, N)
    for v in range(g):
        expect, _ = ops_object_masks(track[v], (GRID, GRID), P, mode)
        assert torch.equal(masks[v], expect)


def test_soft_masks():
    model = _build(mask_mode='soft')
    spy = Spy(model)
    views = _clips()
    out = model.loss(views, _samples())
    assert torch.isfinite(out['loss'])
    (masks, ) = spy.masks
    assert masks.min() >= 0 and masks.max() <= 1
    # row-max normalised: every map peaks at 1 on some patch
    assert torch.allclose(masks.amax(dim=(-2, -1)), torch.ones(()))
    _check_block_constant(masks)
    glob = views[0].flatten(0, 1)
    for i in range(NUM_OBJ):
        m = masks[0, :, :, i].flatten(0, 1)
        torch.testing.assert_close(spy.views[0][i], glob * m, rtol=0,
                                   atol=0)


@pytest.mark.parametrize('use_sk', [True, False])
def test_random_blockwise_masks(monkeypatch, use_sk):
    called = []
    monkeypatch.setattr(dora_mod, 'refine_prototypes',
                        lambda *a, **k: called.append(1))
    model = _build(mask_mode='random_blockwise', use_sk=use_sk)
    spy = Spy(model)
    views = _clips()
    out = model.loss(views, _samples())
    assert torch.isfinite(out['loss']) and not called
    (masks, ) = spy.masks
    assert masks.shape == (1, B, T, NUM_OBJ, 1, G_SIZE, G_SIZE)
    assert set(masks.unique().tolist()) <= {0., 1.}
    _check_block_constant(masks)
    assert (masks.flatten(-3).amax(-1) == 1).all()  # never empty
    glob = views[0].flatten(0, 1)
    for i in range(NUM_OBJ):
        m = masks[0, :, :, i].flatten(0, 1)
        assert torch.equal(spy.views[0][i], glob * m)


@pytest.mark.parametrize('use_sk', [True, False])
def test_use_sk_switch(monkeypatch, use_sk):
    called = []
    orig = dora_mod.refine_prototypes

    def refine(*args, **kwargs):
        called.append(kwargs)
        return orig(*args, **kwargs)

    monkeypatch.setattr(dora_mod, 'refine_prototypes', refine)
    model = _build(use_sk=use_sk, sk_eps=0.1, sk_iters=7,
                   plan_scale='none', normalize_patches=False)
    out = model.loss(_clips(), _samples())
    assert torch.isfinite(out['loss'])
    if use_sk:
        assert called == [dict(eps=0.1, num_iters=7,
                               normalize_patches=False, plan_scale='none')]
    else:
        assert not called


@pytest.mark.parametrize('kw', [
    dict(loss_mode='legacy_code'),
    dict(loss_mode='thesis_sum', num_global_views=2),
    dict(keep_argmax=False),
    dict(num_objects=HEADS),
    dict(num_objects=1, num_global_views=2),
])
def test_variants_run(kw):
    model = _build(**kw)
    g = model.num_global_views
    out = model.loss(_clips(g=g), _samples())
    for key, val in out.items():
        assert torch.isfinite(val), (key, val)
    out['loss'].backward()


def test_bf16_autocast_tracker_in_float32(monkeypatch):
    dtypes = {}
    for name in ('discover_prototypes', 'refine_prototypes',
                 'track_objects'):
        orig = getattr(dora_mod, name)

        def wrapped(*args, _orig=orig, _name=name, **kwargs):
            out = _orig(*args, **kwargs)
            first = out[0] if isinstance(out, tuple) else out
            dtypes[_name] = first.dtype
            return out

        monkeypatch.setattr(dora_mod, name, wrapped)
    model = _build(num_global_views=2)
    spy = Spy(model)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = model.loss(_clips(g=2), _samples())
    # the teacher really ran in bf16, the tracker in float32
    assert model._tap.q.dtype == torch.bfloat16
    assert dtypes == dict.fromkeys(dtypes, torch.float32)
    assert set(dtypes) == {'discover_prototypes', 'refine_prototypes',
                           'track_objects'}
    (masks, ) = spy.masks
    assert torch.isfinite(masks).all()
    assert set(masks.unique().tolist()) <= {0., 1.}
    for key, val in out.items():
        assert torch.isfinite(val), (key, val)
    out['loss'].backward()


# ------------------------------------------------------------ argument checks
def test_build_and_defaults():
    model = _build()
    assert isinstance(model, DoRA)
    assert model.num_global_views == 1 and model.num_objects == NUM_OBJ
    assert model.mask_mode == 'binary_sample_mean'
    assert model.loss_mode == 'clean' and model.use_sk
    assert model.patch_size == (P, P)
    # the tap is on the teacher's last block and only hooked in the pass
    assert model._tap.module is model.teacher_backbone.layers[-1].attn
    assert not model._tap.registered
    model.loss(_clips(), _samples())
    assert not model._tap.registered
    # the tap is no submodule: the state dict is DINO's
    assert not any('tap' in k for k in model.state_dict())
    assert 'dino_loss.center' in model.state_dict()
    # evaluation features: the teacher's [CLS] token of the raw tokens
    x = torch.randn(B, 3, G_SIZE, G_SIZE)
    (feat, ) = model.extract_feat(x)
    tokens = model.teacher_backbone(x)[-1]
    assert feat.shape == (B, D) and torch.equal(feat, tokens[:, 0])


@pytest.mark.parametrize('num_objects', [HEADS + 1, -1])
def test_num_objects_out_of_range(num_objects):
    with pytest.raises(ValueError, match=r'\[0, 6\]'):
        _build(num_objects=num_objects)


def test_backbone_must_give_all_tokens():
    vit = dict(VIT, out_type='cls_token')
    with pytest.raises(ValueError, match="out_type='raw'"):
        _build(backbone=vit)
    resnet = dict(type='ResNet_CIFAR', depth=18, stem_channels=4,
                  base_channels=4)
    with pytest.raises((ValueError, TypeError), match='VisionTransformer'):
        _build(backbone=resnet, neck=dict(type='GlobalAveragePooling'))


def test_vit_without_cls_token_is_refused_at_build():
    vit = dict(VIT, with_cls_token=False)
    with pytest.raises(ValueError, match='with_cls_token=True'):
        _build(backbone=vit)


def test_global_views_of_different_sizes_are_refused():
    model = _build(num_global_views=2)
    views = [torch.randn(2, 3, 3, 64, 64), torch.randn(2, 3, 3, 48, 48),
             torch.randn(2, 3, 3, 32, 32)]
    with pytest.raises(ValueError, match='global views must have one size'):
        model.loss(views, _samples())


@pytest.mark.parametrize('kw, match', [
    (dict(mask_mode='binary'), 'mask_mode'),
    (dict(plan_scale='sqrt'), 'plan_scale'),
    (dict(head_sampling='view'), 'head_sampling'),
    (dict(loss_mode='mean'), 'loss_mode'),
    (dict(num_global_views=3), 'num_global_views'),
    (dict(sk_eps=0.), 'sk_eps'),
    (dict(sk_iters=0), 'sk_iters'),
    (dict(loss_mode='legacy_code', num_global_views=2), 'legacy_code'),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _build(**kw)


@pytest.mark.parametrize('bad', ['frames', 'batch', 'few'])
def test_mismatched_views(bad):
    model = _build(num_global_views=2)
    views = _clips(g=2)
    if bad == 'frames':
        views[-1] = views[-1][:, :2]
        match = 'frames'
    elif bad == 'batch':
        views[1] = views[1][:1]
        match = 'frames'
    else:
        views = views[:1]
        match = 'num_global_views'
    with pytest.raises(ValueError, match=match):
        model.loss(views, _samples())


# ------------------------------------------------- tracking, functional (U6)
def moving_groups(t, order=(0, 1, 2)):
    """Patch indices (4 x 4 grid) of the 3 groups in frame t: two move right
    on rows 0 and 2, one left on row 3; ``order`` relabels the groups."""
    groups = [[0 * 4 + t, 0 * 4 + t + 1],
              [2 * 4 + t, 2 * 4 + t + 1],
              [3 * 4 + 3 - t, 3 * 4 + 2 - t]]
    return [groups[i] for i in order]


def _synthetic_tap(num_views, orders, seed=0):
    """Last-block q, k, [CLS] attention and output tokens of ``num_views``
    global views of B clips of T frames (rows ordered view, clip, frame):
    group g's patches have key, frame-0 query and output along e_g, the
    background keys / queries along e_4 and outputs along e_5; heads 0-2
    attend (from [CLS]) to groups 0-2 of frame 0."""
    gen = torch.Generator().manual_seed(seed)
    basis = torch.eye(D)
    rows = num_views * B * T
    keys = 3 * basis[4].expand(num_views, B, T, N + 1, D).clone()
    q = basis[4].expand(num_views, B, T, N + 1, D).clone()
    tokens = basis[5].expand(num_views, B, T, N + 1, D).clone()
    attn = torch.full((num_views, B, T, HEADS, N + 1), 0.5 / (N + 1))
    for v, order in enumerate(orders):
        for f in range(T):
            for grp, idx in enumerate(moving_groups(f, order)):
                idx = [i + 1 for i in idx]  # token 0 is [CLS]
                keys[v, :, f, idx] = 3 * basis[grp]
                q[v, :, f, idx] = basis[grp]
                tokens[v, :, f, idx] = basis[grp]
                attn[v, :, f, grp] = 0.01
                attn[v, :, f, grp, idx] = 0.4
    keys += 0.01 * torch.randn(keys.shape, generator=gen)
    tokens += 0.01 * torch.randn(tokens.shape, generator=gen)

    def split(x):  # (..., N + 1, h dh) -> (rows, h, N + 1, dh)
        return x.reshape(rows, N + 1, HEADS, DH).transpose(1, 2)

    return (split(q), split(keys), attn.reshape(rows, HEADS, N + 1),
            tokens.reshape(rows, N + 1, D))


@pytest.mark.parametrize('use_sk, plan_scale', [(True, 'n'), (True, 'none'),
                                                (False, 'n')])
@pytest.mark.parametrize('mode', ['binary_sample_mean', 'binary_batch_mean'])
def test_object_masks_follow_moving_groups(monkeypatch, use_sk, plan_scale,
                                           mode):
    g = 2
    orders = [(0, 1, 2), (2, 0, 1)]  # view 2: the groups relabelled
    model = _build(num_global_views=g, use_sk=use_sk, plan_scale=plan_scale,
                   mask_mode=mode)
    # a real teacher pass first (the tap is filled), then the synthetic
    # tensors in its place
    x = torch.stack(_clips(g=g, m=0)).flatten(0, 2)
    model._teacher(x)
    assert model._tap.q.shape == (g * B * T, HEADS, N + 1, DH)
    q, k, attn, tokens = _synthetic_tap(g, orders)
    assert q.shape == model._tap.q.shape
    assert attn.shape == model._tap.cls_attn.shape
    monkeypatch.setattr(model._tap, 'q', q)
    monkeypatch.setattr(model._tap, 'k', k)
    monkeypatch.setattr(model._tap, 'cls_attn', attn)
    monkeypatch.setattr(dora_mod, 'sample_heads',
                        lambda *a, **kw: torch.tensor([0, 1, 2]))
    masks, stats = model.object_masks(tokens, g, B, T, (G_SIZE, G_SIZE))
    assert masks.shape == (g, B, T, NUM_OBJ, 1, G_SIZE, G_SIZE)
    assert float(stats['mask_empty_rate']) == 0
    assert float(stats['mask_overlap']) == 0
    for v, order in enumerate(orders):
        for f in range(T):
            # object i comes from head i, which found group i of frame 0
            for i, idx in enumerate(moving_groups(f, order)):
                expect = torch.zeros(N)
                expect[idx] = 1
                got = masks[v, :, f, i, 0, ::P, ::P].flatten(1)
                torch.testing.assert_close(got, expect.expand(B, N))
    # the masks moved: frame 2 differs from frame 0 for every object
    assert not torch.equal(masks[:, :, 0], masks[:, :, 2])


def test_object_masks_need_one_cls_token():
    model = _build()
    x = torch.stack(_clips(m=0)).flatten(0, 2)
    tokens, _ = model._teacher(x)
    with pytest.raises(ValueError, match='CLS'):
        model.object_masks(tokens[:, 1:], 1, B, T, (G_SIZE, G_SIZE))
    masks, _ = model.object_masks(tokens, 1, B, T, (G_SIZE, G_SIZE))
    assert masks.shape == (1, B, T, NUM_OBJ, 1, G_SIZE, G_SIZE)
    assert math.isclose(float(masks.sum()), float(masks.sum().round()))
