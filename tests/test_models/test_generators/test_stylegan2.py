"""The StyleGAN2-style generator / discriminator: shapes, W+ layout,
conditioning, noise modes, truncation, the running mean of w, input
checks; the modulated convolution against a per-sample reference; the
projection discriminator and the minibatch standard deviation against
hand computations."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from mmmix.models.generators import (
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    minibatch_stddev,
)
from mmmix.models.generators.stylegan2 import ModulatedConv2d

TINY = dict(channel_base=64, channel_max=8)


def _gen(resolution=8, cond_dim=0, seed=0, **kwargs):
    torch.manual_seed(seed)
    cfg = dict(resolution=resolution, img_channels=1, z_dim=6, w_dim=8,
               cond_dim=cond_dim, **TINY)
    cfg.update(kwargs)
    return StyleGAN2Generator(**cfg)


def _set_noise_strength(g, value=0.5):
    for layer in g.layers:
        layer.noise_strength.data.fill_(value)


# --------------------------------------------------------------- generator
@pytest.mark.parametrize('resolution', [8, 16, 32])
@pytest.mark.parametrize('img_channels', [1, 3])
def test_generator_shapes_and_num_ws(resolution, img_channels):
    g = _gen(resolution, img_channels=img_channels, cond_dim=5).eval()
    assert g.num_ws == 2 * int(math.log2(resolution)) - 2
    z, h = torch.randn(3, 6), torch.randn(3, 5)
    ws = g.mapping(z, h)
    assert ws.shape == (3, g.num_ws, 8)
    # every layer gets the same w (no style mixing)
    assert torch.equal(ws, ws[:, :1].expand_as(ws))
    img = g(z, h)
    assert img.shape == (3, img_channels, resolution, resolution)
    assert torch.isfinite(img).all()
    # StyleGAN2's W+ layout: one code per conv plus the last toRGB (a
    # toRGB shares its code with the next block's first conv)
    assert len(g.layers) + 1 == g.num_ws


def test_generator_uses_the_conditioning():
    g = _gen(cond_dim=5).eval()
    z = torch.randn(4, 6)
    h = torch.randn(4, 5, requires_grad=True)
    g(z, h, noise_mode='const').square().sum().backward()
    assert h.grad is not None and h.grad.abs().sum() > 0
    a = g(z, h.detach(), noise_mode='const')
    b = g(z, torch.randn(4, 5), noise_mode='const')
    assert not torch.allclose(a, b)


def test_noise_modes_and_latents():
    g = _gen().eval()
    _set_noise_strength(g)
    z = torch.randn(4, 6)
    assert torch.equal(g(z, noise_mode='const'), g(z, noise_mode='const'))
    assert torch.equal(g(z, noise_mode='none'), g(z, noise_mode='none'))
    assert not torch.allclose(g(z, noise_mode='random'),
                              g(z, noise_mode='random'))
    assert not torch.allclose(g(z, noise_mode='const'),
                              g(z, noise_mode='none'))
    other = g(torch.randn(4, 6), noise_mode='const')
    assert not torch.allclose(g(z, noise_mode='const'), other)
    # per-sample: different z in one batch give different images
    img = g(z, noise_mode='const')
    assert not torch.allclose(img[0], img[1])


def test_state_dict_round_trip():
    a = _gen(cond_dim=3, seed=0)
    _set_noise_strength(a, 0.3)
    a.train()
    a.mapping(torch.randn(8, 6), torch.randn(8, 3))  # a non-zero w_avg
    b = _gen(cond_dim=3, seed=1)
    z, h = torch.randn(4, 6), torch.randn(4, 3)
    a.eval(), b.eval()
    assert not torch.allclose(a(z, h, noise_mode='const'),
                              b(z, h, noise_mode='const'))
    b.load_state_dict(a.state_dict())
    for psi in (1.0, 0.5):
        assert torch.equal(a(z, h, psi, noise_mode='const'),
                           b(z, h, psi, noise_mode='const'))
    assert torch.equal(a.w_avg, b.w_avg)


def test_truncation_psi_zero_gives_w_avg():
    g = _gen()
    g.train()
    for _ in range(3):
        g.mapping(torch.randn(16, 6))
    assert g.w_avg.abs().sum() > 0
    g.eval()
    z = torch.randn(5, 6)
    ws = g.mapping(z, truncation_psi=0)
    torch.testing.assert_close(ws, g.w_avg.expand(5, g.num_ws, -1),
                               rtol=0, atol=0)
    img = g(z, truncation_psi=0, noise_mode='const')
    for i in range(1, 5):
        torch.testing.assert_close(img[i], img[0], rtol=0, atol=1e-6)
    ref = g.synthesis(g.w_avg.expand(1, g.num_ws, -1), 'const')
    torch.testing.assert_close(img[:1], ref, rtol=0, atol=1e-6)
    assert not torch.allclose(g(z, noise_mode='const')[0],
                              g(z, noise_mode='const')[1])
    # psi interpolates in W: w_avg + psi (w - w_avg)
    w = g.mapping(z)
    torch.testing.assert_close(g.mapping(z, truncation_psi=0.7),
                               g.w_avg + 0.7 * (w - g.w_avg))


def test_w_avg_running_mean():
    g = _gen(w_avg_beta=0.9)
    z = torch.randn(8, 6)
    w = g.eval().mapping(z)[:, 0].detach()
    before = g.w_avg.clone()
    with torch.no_grad():
        g.train().mapping(z)  # training mode but no grad: not updated
    assert torch.equal(g.w_avg, before)
    g.eval().mapping(z)  # eval mode under grad: not updated
    assert torch.equal(g.w_avg, before)
    g.train().mapping(z)
    torch.testing.assert_close(g.w_avg, before + 0.1 * (w.mean(0) - before))
    assert not torch.equal(g.w_avg, before)


def test_generator_bad_inputs_name_the_field():
    g = _gen(cond_dim=5).eval()
    z, h = torch.randn(2, 6), torch.randn(2, 5)
    with pytest.raises(ValueError, match=r'z must have shape \(B, z_dim=6\)'):
        g(torch.randn(2, 7), h)
    with pytest.raises(ValueError, match='z must have shape'):
        g(torch.randn(6), h)
    with pytest.raises(ValueError, match='cond is required'):
        g(z)
    with pytest.raises(ValueError, match=r'cond must have shape \(B, '
                       r'cond_dim=5\)'):
        g(z, torch.randn(2, 4))
    with pytest.raises(ValueError, match='batch sizes differ: 2 vs 3'):
        g(z, torch.randn(3, 5))
    with pytest.raises(ValueError, match='noise_mode'):
        g(z, h, noise_mode='fixed')
    with pytest.raises(ValueError, match='ws must have shape'):
        g.synthesis(torch.randn(2, g.num_ws + 1, 8))
    with pytest.raises(ValueError, match='cond was given'):
        _gen().eval()(z, h)
    for bad in (12, 4, 0, -8):
        with pytest.raises(ValueError, match='resolution must be a power '
                           f'of 2 >= 8, got {bad}'):
            _gen(resolution=bad)
        with pytest.raises(ValueError, match='resolution'):
            StyleGAN2Discriminator(bad, **TINY)
    with pytest.raises(ValueError, match='w_avg_beta'):
        _gen(w_avg_beta=1.0)
    with pytest.raises(ValueError, match='cond_dim'):
        _gen(cond_dim=-1)


# ------------------------------------------------------- modulated conv
def _reference_modconv(mod, x, w, demodulate, upsample):
    """Per-sample weights built by hand, one F.conv2d per sample."""
    a = mod.affine
    s = w @ a.weight.T / math.sqrt(w.shape[1]) + a.bias  # lr_mul = 1
    k = mod.weight.shape[-1]
    base = mod.weight / math.sqrt(mod.weight.shape[1] * k * k)
    weights = torch.einsum('oikl,bi->boikl', base, s)
    if demodulate:
        norm = weights.square().sum((2, 3, 4), keepdim=True) + 1e-8
        weights = weights / norm.sqrt()
    if upsample:
        x = F.interpolate(x, scale_factor=2, mode='bilinear',
                          align_corners=False)
    return torch.cat([
        F.conv2d(x[i:i + 1], weights[i], padding=k // 2)
        for i in range(x.shape[0])
    ])


@pytest.mark.parametrize('kernel_size', [1, 3])
@pytest.mark.parametrize('demodulate', [True, False])
@pytest.mark.parametrize('upsample', [True, False])
def test_modulated_conv_matches_per_sample_reference(kernel_size,
                                                     demodulate, upsample):
    torch.manual_seed(0)
    mod = ModulatedConv2d(3, 4, kernel_size, w_dim=6,
                          demodulate=demodulate, upsample=upsample)
    mod.affine.bias.data.normal_()  # styles far from 1
    x, w = torch.randn(5, 3, 6, 6), torch.randn(5, 6)
    out = mod(x, w)
    side = 12 if upsample else 6
    assert out.shape == (5, 4, side, side)
    ref = _reference_modconv(mod, x, w, demodulate, upsample)
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-5)
    if demodulate:  # unit-norm per-sample weights: scale-free in s
        torch.testing.assert_close(mod(x, w * 1), out)


# ---------------------------------------------------------- discriminator
def _reference_mbstd(x, group_size):
    """Groups of samples n, n + B/g, n + 2B/g, ... (StyleGAN's layout):
    per group the biased std over its members, averaged over C, H, W."""
    x = x.detach().double().numpy()
    b = x.shape[0]
    g = min(group_size, b)
    if b % g:
        g = b
    stride = b // g
    stat = np.empty(b)
    for n in range(b):
        members = [m for m in range(b) if m % stride == n % stride]
        assert len(members) == g
        stat[n] = np.sqrt(np.var(x[members], axis=0) + 1e-8).mean()
    return stat


@pytest.mark.parametrize('batch,group', [(8, 4), (8, 2), (6, 4), (3, 4),
                                         (4, 1)])
def test_minibatch_stddev_matches_hand_computation(batch, group):
    torch.manual_seed(0)
    x = torch.randn(batch, 3, 4, 4) * torch.arange(1., batch + 1).view(
        -1, 1, 1, 1)
    out = minibatch_stddev(x, group)
    assert out.shape == (batch, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    stat = out[:, 3]
    assert torch.equal(stat, stat[:, :1, :1].expand_as(stat))  # constant
    np.testing.assert_allclose(stat[:, 0, 0].numpy(),
                               _reference_mbstd(x, group), rtol=1e-5,
                               atol=1e-6)


def _disc(cond_dim=0, resolution=16, **kwargs):
    torch.manual_seed(0)
    return StyleGAN2Discriminator(resolution, img_channels=3,
                                  cond_dim=cond_dim, **TINY, **kwargs)


@pytest.mark.parametrize('resolution', [8, 16, 32])
def test_discriminator_output_shape(resolution):
    d = _disc(resolution=resolution)
    assert d(torch.randn(4, 3, resolution, resolution)).shape == (4, 1)
    d = _disc(cond_dim=5, resolution=resolution)
    out = d(torch.randn(4, 3, resolution, resolution), torch.randn(4, 5))
    assert out.shape == (4, 1) and torch.isfinite(out).all()


@pytest.mark.parametrize('cmap_dim', [None, 3])
def test_projection_discriminator_formula(cmap_dim):
    d = _disc(cond_dim=5, cmap_dim=cmap_dim)
    cdim = cmap_dim or 8  # channels at 4x4: min(64 // 4, 8)
    assert d.cmap_dim == cdim
    img, h = torch.randn(4, 3, 16, 16), torch.randn(4, 5)
    logit = d(img, h)
    # by hand from the sub-layers, mbstd from the numpy reference
    x = d.blocks(d.from_rgb(img))
    stat = torch.from_numpy(_reference_mbstd(x, d.mbstd_group_size)).float()
    x = torch.cat([x, stat.view(-1, 1, 1, 1).expand(-1, 1, 4, 4)], 1)
    feat = d.out(d.epilogue_fc(d.epilogue_conv(x).flatten(1)))
    assert feat.shape == (4, cdim)
    cmap = d.cond_mapping(h)
    expected = (feat * cmap).sum(1, keepdim=True) / math.sqrt(cdim)
    torch.testing.assert_close(logit, expected, rtol=1e-5, atol=1e-6)
    # the logit depends on h
    assert not torch.allclose(d(img, torch.randn(4, 5)), logit)
    # and per sample on its own h only (mbstd mixes images, not h)
    h2 = h.clone()
    h2[0] = torch.randn(5)
    out2 = d(img, h2)
    assert not torch.allclose(out2[0], logit[0])
    torch.testing.assert_close(out2[1:], logit[1:])


def test_discriminator_bad_inputs():
    d = _disc(cond_dim=5)
    with pytest.raises(ValueError, match='cond must be given'):
        d(torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r'cond must have shape \(B, 5\)'):
        d(torch.randn(2, 3, 16, 16), torch.randn(2, 4))
    with pytest.raises(ValueError, match=r'img must have shape \(B, 3, 16, '
                       r'16\)'):
        d(torch.randn(2, 3, 8, 8), torch.randn(2, 5))
    with pytest.raises(ValueError, match='cond must be given'):
        _disc()(torch.randn(2, 3, 16, 16), torch.randn(2, 5))


def test_generator_gradients_reach_every_parameter():
    g = _gen(cond_dim=3)
    _set_noise_strength(g, 0.1)
    d = StyleGAN2Discriminator(8, img_channels=1, cond_dim=3, **TINY)
    z, h = torch.randn(4, 6), torch.randn(4, 3)
    d(g(z, h), h).sum().backward()
    for name, p in list(g.named_parameters()) + list(d.named_parameters()):
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_every_w_plus_code_is_used():
    g = _gen(resolution=16).eval()
    ws = g.mapping(torch.randn(2, 6))
    ref = g.synthesis(ws)
    for j in range(g.num_ws):
        moved = ws.clone()
        moved[:, j] += 1.0
        assert not torch.allclose(g.synthesis(moved), ref), j


def test_w_plus_layout():
    """StyleGAN2's layout: conv j reads ws[:, j]; the toRGB of block i
    reads ws[:, 2 i + 1], the code of the next block's first conv."""
    g = _gen(resolution=32).eval()
    ws = torch.randn(2, g.num_ws, 8)
    seen = {}

    def hook(name):
        def fn(module, args, out):
            seen[name] = args[0]
        return fn

    for j, layer in enumerate(g.layers):
        layer.conv.affine.register_forward_hook(hook(('conv', j)))
    for i, to_rgb in enumerate(g.to_rgbs):
        to_rgb.conv.affine.register_forward_hook(hook(('rgb', i)))
    g.synthesis(ws)
    assert len(seen) == len(g.layers) + len(g.to_rgbs)
    for j in range(len(g.layers)):
        assert torch.equal(seen[('conv', j)], ws[:, j]), j
    for i in range(len(g.to_rgbs)):
        assert torch.equal(seen[('rgb', i)], ws[:, 2 * i + 1]), i
