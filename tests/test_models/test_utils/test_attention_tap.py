"""LastBlockAttentionTap on mmpretrain's VisionTransformer (spec unit U4)."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import CosineEMA
from torch import nn

from mmmix.models.utils import AttentionTap, LastBlockAttentionTap
from mmmix.ops import (
    concat_heads,
    discover_prototypes,
    object_masks,
    refine_prototypes,
    sample_heads,
    track_objects,
)

H, DH, D = 6, 8, 48


def tiny_vit(seed=0):
    torch.manual_seed(seed)
    vit = VisionTransformer(
        arch=dict(embed_dims=D, num_layers=2, num_heads=H,
                  feedforward_channels=96),
        img_size=64, patch_size=16, out_type='raw')
    vit.init_weights()
    vit.eval()  # VisionTransformer.train() returns None: no chaining
    return vit


def images(b=2, seed=1):
    return torch.randn(b, 3, 64, 64, generator=torch.Generator().manual_seed(
        seed))


def last_block_input(vit, x):
    """Input of the last block (output of the second-last one)."""
    store = {}
    handle = vit.layers[-1].register_forward_pre_hook(
        lambda m, args: store.setdefault('x', args[0]))
    out = vit(x)[0]
    handle.remove()
    return store['x'], out


def manual_attention(vit, x_in):
    """Re-implementation of the last block's attention from its weights."""
    block = vit.layers[-1]
    b, n, _ = x_in.shape
    u = F.layer_norm(x_in, (D, ), block.ln1.weight, block.ln1.bias,
                     block.ln1.eps)
    lin = u @ block.attn.qkv.weight.T + block.attn.qkv.bias
    q, k, v = (lin[..., i * D:(i + 1) * D].reshape(b, n, H, DH).transpose(
        1, 2) for i in range(3))
    attn = torch.softmax(q @ k.transpose(-1, -2) / DH**0.5, dim=-1)
    return u, q, k, v, attn


def test_tap_matches_manual_last_block():
    vit = tiny_vit()
    tap = LastBlockAttentionTap(vit, full_attention=True)
    x = images()
    with torch.no_grad():
        x_in, out = last_block_input(vit, x)
        u, q, k, v, attn = manual_attention(vit, x_in)
    for got, ref in ((tap.q, q), (tap.k, k), (tap.attn, attn),
                     (tap.cls_attn, attn[:, :, 0])):
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=1e-5)
    assert tap.q.shape == (2, H, 17, DH) and tap.attn.shape == (2, H, 17, 17)
    torch.testing.assert_close(tap.attn.sum(-1), torch.ones(2, H, 17))
    torch.testing.assert_close(tap.cls_attn.sum(-1), torch.ones(2, H))
    assert tap.cls_patch_attn.shape == (2, H, 16)
    torch.testing.assert_close(tap.cls_patch_attn, tap.attn[:, :, 0, 1:])
    assert tap.patch_q.shape == tap.patch_k.shape == (2, H, 16, DH)
    # the recomputed attention is the model's: finishing the block with it
    # reproduces the backbone output (the fused SDPA uses the same scale)
    block = vit.layers[-1]
    with torch.no_grad():
        mixed = (attn @ v).transpose(1, 2).reshape(2, 17, D)
        y = x_in + block.attn.proj(mixed)
        y = vit.ln1(block.ffn(block.ln2(y), identity=y))
    torch.testing.assert_close(y, out, atol=1e-5, rtol=1e-5)
    # head concatenation order = the qkv split of the projection
    with torch.no_grad():
        lin = block.attn.qkv(u)
    torch.testing.assert_close(concat_heads(tap.q), lin[..., :D])
    torch.testing.assert_close(concat_heads(tap.k), lin[..., D:2 * D])
    assert tap.scale == pytest.approx(DH**-0.5)


def test_cls_row_only_by_default():
    vit = tiny_vit()
    full = LastBlockAttentionTap(vit, full_attention=True)
    row = AttentionTap(vit)
    vit(images())
    assert row.attn is None and row.cls_attn.shape == (2, H, 17)
    torch.testing.assert_close(row.cls_attn, full.attn[:, :, 0])
    torch.testing.assert_close(row.q, full.q)
    assert not row.q.requires_grad and not row.cls_attn.requires_grad


def test_register_remove_idempotent_and_context():
    vit = tiny_vit()
    attn = vit.layers[-1].attn
    tap = LastBlockAttentionTap(vit)
    tap.register()
    tap.register()
    assert tap.registered and len(attn._forward_pre_hooks) == 1
    tap.remove()
    tap.remove()
    assert not tap.registered and len(attn._forward_pre_hooks) == 0
    vit(images())
    assert tap.q is None  # removed: nothing captured

    tap = LastBlockAttentionTap(vit, register=False)
    assert len(attn._forward_pre_hooks) == 0
    with tap as t:
        assert t is tap and len(attn._forward_pre_hooks) == 1
        vit(images(seed=2))
    assert len(attn._forward_pre_hooks) == 0
    kept = tap.q
    vit(images(seed=3))
    assert tap.q is kept  # not updated after the context

    tap.register()
    tap.enabled = False
    tap.reset()
    vit(images())
    assert tap.q is None and tap.cls_attn is None
    tap.enabled = True
    vit(images())
    assert tap.q is not None
    tap.remove()


def test_requires_grad_option_and_autocast():
    vit = tiny_vit()
    tap = LastBlockAttentionTap(vit, requires_grad=True)
    vit(images())
    assert tap.q.requires_grad and tap.cls_attn.requires_grad
    tap.cls_attn[:, :, 1:].sum().backward()
    assert vit.layers[-1].attn.qkv.weight.grad is not None
    tap.remove()
    tap = LastBlockAttentionTap(vit)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        vit(images())
    assert tap.q.dtype == torch.bfloat16
    assert tap.cls_attn.dtype == torch.float32
    torch.testing.assert_close(tap.cls_attn.sum(-1), torch.ones(2, H))


def test_tap_on_cosine_ema_copy():
    vit = tiny_vit()
    student_tap = LastBlockAttentionTap(vit)  # registered before the copy
    ema = CosineEMA(nn.Sequential(vit, nn.Identity()))
    teacher = ema.module[0]
    assert teacher is not vit
    tap = LastBlockAttentionTap(teacher, full_attention=True)
    with torch.no_grad():  # make the teacher differ from the student
        for p in teacher.parameters():
            p.add_(0.01 * torch.randn_like(p))
    x = images()
    student_tap.reset()
    teacher(x)
    assert student_tap.q is None  # the copied hook is inert
    with torch.no_grad():
        x_in, _ = last_block_input(teacher, x)
        _, q, k, _, attn = manual_attention(teacher, x_in)
    torch.testing.assert_close(tap.q, q, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tap.k, k, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(tap.attn, attn, atol=1e-6, rtol=1e-5)
    vit(x)
    assert not torch.allclose(student_tap.q, tap.q)
    # a deep copy of a tapped backbone does not write into the tap
    clone = copy.deepcopy(teacher)
    before = tap.q
    clone(images(seed=5))
    assert tap.q is before


def test_rejects_other_backbones():
    with pytest.raises(TypeError, match='VisionTransformer'):
        LastBlockAttentionTap(nn.Linear(3, 3))
    vit = tiny_vit()
    ema = CosineEMA(nn.Sequential(vit, nn.Identity()))
    with pytest.raises(TypeError, match='MultiheadAttention'):
        LastBlockAttentionTap(ema)  # the wrapper, not ema.module[0]
    block = nn.Module()
    block.attn = nn.Identity()
    fake = nn.Module()
    fake.layers = nn.ModuleList([block])
    with pytest.raises(TypeError, match='Identity'):
        LastBlockAttentionTap(fake)


def test_tap_feeds_the_tracker():
    """Teacher pass on B=2 clips of T=3 frames through all the ops."""
    vit = tiny_vit()
    tap = LastBlockAttentionTap(vit)
    b, t, n = 2, 3, 16
    x = images(b * t)
    with torch.no_grad():
        tokens = vit(x)[0]  # (b*t, 17, 48)
    heads = sample_heads(H, 3, generator=torch.Generator().manual_seed(0))
    protos = discover_prototypes(tap.cls_patch_attn[::t], tap.patch_q[::t],
                                 heads)
    assert protos.shape == (b, 3, D)
    refined, plan = refine_prototypes(protos, tokens[::t, 1:])
    keys = concat_heads(tap.patch_k).view(b, t, n, D)
    track = track_objects(refined, keys)
    masks, stats = object_masks(track, (4, 4), 16)
    assert track.shape == (b, t, 3, n) and masks.shape == (b, t, 3, 1, 64, 64)
    assert torch.isfinite(plan).all() and float(stats['empty_rate']) <= 1
    assert (masks.flatten(3).amax(-1) == 1).all()
    # frame 0's keys come from the same pass as its queries
    torch.testing.assert_close(keys[:, 0],
                               concat_heads(tap.k[::t, :, 1:]))
