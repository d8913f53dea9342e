"""GAN inversion: per-image optimisation of W+ codes on a toy generator
with known latents, per-image independence (BN-carrying frozen networks,
other batch members), frozen and restored networks, the loss terms against
hand computations, the LatentEncoder's initialisation and its training on
a tiny StyleGAN2 generator's samples."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mmmix.models.generators import (
    LatentEncoder,
    StyleGAN2Generator,
    invert_latents,
    train_latent_encoder,
)
from mmmix.models.generators.inversion import inversion_loss
from mmmix.ops.latent_views import truncate
from mmmix.registry import MODELS

L, D, C, R = 2, 4, 1, 4


class ToyGenerator(nn.Module):
    """``synthesis(w) = tanh(flatten(w) @ A)`` as a (B, 1, 4, 4) image."""

    def __init__(self):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.A = nn.Parameter(torch.randn(L * D, C * R * R, generator=g))
        self.register_buffer('w_avg', torch.full((D, ), 0.1))
        self.calls = []

    def synthesis(self, ws, noise_mode='const'):
        self.calls.append(noise_mode)
        return torch.tanh(ws.flatten(1) @ self.A / 3).view(-1, C, R, R)


class BNFeatures(nn.Module):
    """A conv + BatchNorm feature net (batch statistics in train mode)."""

    def __init__(self, out=(3, )):
        super().__init__()
        self.conv = nn.Conv2d(C, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x):
        h = self.bn(self.conv(x))
        return (h, h.mean((2, 3)))


class BNEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(C * R * R, L * D)
        self.bn = nn.BatchNorm1d(L * D)

    def forward(self, x):
        return self.bn(self.fc(x.flatten(1))).view(-1, L, D)


def _known(b, seed=1):
    g = torch.Generator().manual_seed(seed)
    return 0.8 * torch.randn(b, L, D, generator=g)


def test_inversion_recovers_a_known_latent():
    gen = ToyGenerator()
    w_true = _known(3)
    with torch.no_grad():
        x = gen.synthesis(w_true)
    w_init = gen.w_avg.expand(3, L, D)
    ws, info = invert_latents(gen.synthesis, x, w_init, steps=300, lr=0.05)
    assert ws.shape == (3, L, D) and not ws.requires_grad
    assert (info['mse_init'] > 1e-2).all()
    # the reconstruction error drops by orders of magnitude, per image
    assert (info['mse'] < 1e-3 * info['mse_init']).all()
    # the latent itself is found (A has full column rank, tanh monotone)
    assert torch.allclose(ws, w_true, atol=0.05)
    assert info['history'][0] > 100 * info['history'][-1]
    assert len(info['history']) == 300
    assert set(gen.calls) == {'const'}
    # the reported reconstruction is the clamped synthesis of the result
    assert torch.allclose(info['recon'],
                          gen.synthesis(ws).clamp(-1, 1).detach())


def test_truncated_synthesis_is_inverted_in_pre_truncation_space():
    gen = ToyGenerator()
    w_true = _known(2, seed=3)
    with torch.no_grad():
        x = gen.synthesis(truncate(w_true, gen.w_avg, 0.5))
    ws, info = invert_latents(gen.synthesis, x, gen.w_avg.expand(2, L, D),
                              steps=300, lr=0.05, truncation_psi=0.5,
                              w_avg=gen.w_avg)
    assert (info['mse'] < 1e-3 * info['mse_init']).all()
    assert torch.allclose(ws, w_true, atol=0.1)
    with pytest.raises(ValueError, match='w_avg'):
        invert_latents(gen.synthesis, x, w_true, steps=1,
                       truncation_psi=0.5)


def test_images_do_not_interact():
    """Image 0 inverts the same beside any other image, even with frozen
    networks that hold BatchNorm layers (run in eval mode)."""
    gen = ToyGenerator()
    torch.manual_seed(0)
    perc, enc = BNFeatures(), BNEncoder()
    with torch.no_grad():  # non-trivial running statistics
        perc.bn.running_mean.uniform_(-1, 1)
        enc.bn.running_var.uniform_(0.5, 2)
    w = _known(3, seed=5)
    with torch.no_grad():
        x = gen.synthesis(w)
        x[2] = -x[2]
    w_init = gen.w_avg.expand(3, L, D).clone()
    kw = dict(steps=20, lr=0.05, perceptual=perc, lambda_perc=0.5,
              encoder=enc, lambda_dom=0.3)
    ws_ab, _ = invert_latents(gen.synthesis, x[[0, 1]], w_init[[0, 1]],
                              **kw)
    ws_ac, _ = invert_latents(gen.synthesis, x[[0, 2]], w_init[[0, 2]],
                              **kw)
    ws_a, _ = invert_latents(gen.synthesis, x[[0]], w_init[[0]], **kw)
    assert torch.allclose(ws_ab[0], ws_ac[0], atol=1e-6)
    assert torch.allclose(ws_ab[0], ws_a[0], atol=1e-6)
    assert not torch.allclose(ws_ab[1], ws_ac[1], atol=1e-3)
    # with batch statistics (train-mode BN) image 0 would depend on the
    # others: the check above can fail
    perc.train()
    feats_ab = perc(x[[0, 1]])[0][0]
    feats_ac = perc(x[[0, 2]])[0][0]
    assert not torch.allclose(feats_ab, feats_ac, atol=1e-3)


def test_gradients_are_per_image():
    gen = ToyGenerator()
    perc = BNFeatures().eval()
    w = _known(3, seed=7).requires_grad_(True)
    with torch.no_grad():
        x = gen.synthesis(_known(3, seed=8))
    loss, _ = inversion_loss(w, x, lambda v: gen.synthesis(v),
                             perceptual=perc, lambda_perc=1.0)
    for i in range(3):
        grad, = torch.autograd.grad(loss[i], w, retain_graph=True)
        others = [j for j in range(3) if j != i]
        assert grad[others].abs().max() == 0
        assert grad[i].abs().max() > 0


def test_networks_frozen_and_restored():
    gen = ToyGenerator()
    perc, enc = BNFeatures().train(), BNEncoder().train()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    perc_before = {k: v.clone() for k, v in perc.state_dict().items()}
    x = gen.synthesis(_known(2)).detach()
    invert_latents(gen.synthesis, x, gen.w_avg.expand(2, L, D), steps=5,
                   perceptual=perc, encoder=enc, lambda_dom=1.0)
    for k, v in gen.state_dict().items():
        assert torch.equal(v, before[k]), k
    # BN running statistics untouched: the nets ran in eval mode
    for k, v in perc.state_dict().items():
        assert torch.equal(v, perc_before[k]), k
    assert gen.A.requires_grad and gen.A.grad is None
    assert perc.training and enc.training
    assert all(p.requires_grad for p in perc.parameters())


def test_loss_terms_match_hand_computation():
    gen = ToyGenerator()
    perc = BNFeatures().eval()
    enc = BNEncoder().eval()
    w = _known(2, seed=11)
    w_init = _known(2, seed=12)
    x = torch.rand(2, C, R, R) * 2 - 1
    loss, terms = inversion_loss(w, x, gen.synthesis, w_init=w_init,
                                 perceptual=perc, lambda_perc=0.7,
                                 encoder=enc, lambda_dom=2.0)
    g = gen.synthesis(w)
    pixel = ((g - x)**2).mean((1, 2, 3))
    fg, fx = perc(g), perc(x)
    perc_ = ((fg[0] - fx[0])**2).mean((1, 2, 3)) + (
        (fg[1] - fx[1])**2).mean(1)
    dom = ((enc(g) - w_init)**2).mean((1, 2))
    assert torch.allclose(terms['pixel'], pixel)
    assert torch.allclose(terms['perc'], perc_)
    assert torch.allclose(terms['dom'], dom)
    assert torch.allclose(loss, pixel + 0.7 * perc_ + 2.0 * dom)
    with pytest.raises(ValueError, match='resolution'):
        inversion_loss(w, x[..., :3], gen.synthesis)


def test_invert_latents_checks_arguments():
    gen = ToyGenerator()
    x = torch.zeros(2, C, R, R)
    w = torch.zeros(2, L, D)
    with pytest.raises(ValueError, match='w_init'):
        invert_latents(gen.synthesis, x, w[:1])
    with pytest.raises(ValueError, match='steps'):
        invert_latents(gen.synthesis, x, w, steps=-1)
    with pytest.raises(ValueError, match='lr'):
        invert_latents(gen.synthesis, x, w, lr=0)
    with pytest.raises(ValueError, match='noise_mode'):
        invert_latents(gen.synthesis, x, w, noise_mode='fixed')


def _tiny_stylegan():
    torch.manual_seed(0)
    gen = StyleGAN2Generator(resolution=8, img_channels=1, z_dim=6,
                             w_dim=8, channel_base=64, channel_max=8)
    with torch.no_grad():
        gen.w_avg.copy_(gen.mapping(torch.randn(256, 6))[:, 0].mean(0))
        for layer in gen.layers:  # visible, distinct noise
            layer.noise_strength.fill_(0.1)
    return gen.eval()


def test_latent_encoder_starts_at_w_avg():
    enc = MODELS.build(dict(type='mmmix.LatentEncoder', resolution=8,
                            img_channels=1, w_dim=8, channels=4))
    assert enc.num_ws == 4  # 2 log2(8) - 2
    w_avg = torch.linspace(-1, 1, 8)
    enc.set_w_avg(w_avg)
    x = torch.rand(5, 1, 8, 8) * 2 - 1
    out = enc(x)
    assert out.shape == (5, 4, 8)
    res = out - w_avg
    assert res.abs().max() < 0.05 and res.abs().max() > 0
    # per image, and the same in train and eval mode (no batch statistics)
    assert torch.allclose(enc(x[2:3]), out[2:3], atol=1e-6)
    assert torch.allclose(enc.eval()(x), out)
    assert 'w_avg' in enc.state_dict()
    with pytest.raises(ValueError, match=r'\(B, 1, 8, 8\)'):
        enc(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match='resolution'):
        LatentEncoder(resolution=12)
    with pytest.raises(ValueError, match='w_avg'):
        enc.set_w_avg(torch.zeros(3))


def test_train_latent_encoder_lowers_its_loss():
    gen = _tiny_stylegan()
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    torch.manual_seed(1)
    enc = LatentEncoder(resolution=8, img_channels=1, w_dim=8, channels=8)
    steps = []
    hist = train_latent_encoder(gen, enc, steps=60, batch_size=16, lr=3e-3,
                                seed=0, callback=lambda s, v: steps.append(s))
    assert steps == list(range(60))
    assert torch.equal(enc.w_avg, gen.w_avg)
    lat = hist['latent_mse']
    assert sum(lat[-10:]) / 10 < 0.5 * sum(lat[:5]) / 5
    loss = hist['loss']
    assert sum(loss[-10:]) / 10 < 0.5 * sum(loss[:5]) / 5
    for k, v in gen.state_dict().items():  # frozen, w_avg not updated
        assert torch.equal(v, before[k]), k
    assert not enc.training
    # the trained encoder beats w_avg on fresh samples
    with torch.no_grad():
        w = gen.mapping(torch.randn(64, 6, generator=torch.Generator(
        ).manual_seed(9)))
        x = gen.synthesis(w).clamp(-1, 1)
        assert F.mse_loss(enc(x), w) < 0.7 * F.mse_loss(
            gen.w_avg.expand_as(w), w)
    with pytest.raises(ValueError, match='batch_size'):
        train_latent_encoder(gen, enc, steps=1, batch_size=0)
