import numpy as np
import pytest
import torch
import torch.nn as nn

from mmmix.datasets import FeatureBank
from mmmix.models.utils import LMASampler
from mmmix.registry import MODELS


@MODELS.register_module(name='LMAMockGenerator', force=True)
class MockGenerator(nn.Module):
    """A generator whose output encodes its inputs, ``(B, C, R, R)``:

    - row 0: the conditioning vector ``h[:R]`` (which bank row was used);
    - row 1: ``z[:R] / 4`` (which latent was drawn);
    - row 2: channel ``c`` painted ``(c - 1) / 2`` (channel order);
    - row 3: ``randn / 4`` from torch's RNG if ``noise_mode == 'random'``;
    - row 4: -1 (uint8 0); row 5: 1.7 (clamped, uint8 255);
    - everything times ``scale`` (a parameter: checkpoint loading).
    """

    def __init__(self, z_dim=8, cond_dim=4, img_channels=1, resolution=8):
        super().__init__()
        self.z_dim, self.cond_dim = z_dim, cond_dim
        self.img_channels, self.resolution = img_channels, resolution
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, z, cond=None, truncation_psi=1.0, noise_mode='random'):
        b, r = z.shape[0], self.resolution
        out = torch.zeros(b, self.img_channels, r, r)
        if self.cond_dim:
            assert cond is not None and cond.shape == (b, self.cond_dim)
            m = min(r, self.cond_dim)
            out[:, :, 0, :m] = cond[:, None, :m]
        m = min(r, self.z_dim)
        out[:, :, 1, :m] = z[:, None, :m] / 4
        for c in range(self.img_channels):
            out[:, c, 2] = (c - 1) / 2
        if noise_mode == 'random':
            out[:, :, 3] = torch.randn(b, 1, r) / 4
        out[:, :, 4] = -1
        out[:, :, 5] = 1.7
        return out * self.scale


def make_bank(path, n=10, d=4, seed=0):
    """A bank of ``n`` random unit rows; returns ``(bank, rows)``."""
    rows = np.random.default_rng(seed).normal(size=(n, d))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    FeatureBank.save(str(path), rows)
    return FeatureBank.load(str(path)), rows


def save_gan_ckpt(path, scale=0.5, extra=None):
    state = {'generator_ema.scale': torch.tensor(scale),
             'generator.scale': torch.tensor(9.0),
             'discriminator.w': torch.ones(2)}
    state.update(extra or {})
    torch.save(dict(state_dict=state, meta=dict()), str(path))
    return str(path)


def test_uses_the_right_bank_row_and_clamps(tmp_path):
    bank, rows = make_bank(tmp_path / 'bank')
    sampler = LMASampler(dict(type='LMAMockGenerator'), bank=bank)
    assert sampler.out_shape == (1, 8, 8) and sampler.num_samples == 10
    assert not sampler.generator.training
    assert not any(p.requires_grad for p in sampler.generator.parameters())
    out = sampler.sample(torch.tensor([7, 2, 7]))
    assert out.shape == (3, 1, 8, 8) and out.dtype == torch.float32
    assert out.min() >= -1 and out.max() <= 1
    for b, i in enumerate([7, 2, 7]):
        np.testing.assert_allclose(out[b, 0, 0, :4].numpy(), rows[i],
                                   atol=1e-6)
    assert (out[:, :, 5] == 1).all()  # 1.7 clamped
    # fresh z per sample: the two samples of row 7 differ
    assert not torch.equal(out[0, 0, 1], out[2, 0, 1])


def test_seeded_generator_reproduces_z_and_noise(tmp_path):
    bank, _ = make_bank(tmp_path / 'bank')
    sampler = LMASampler(MockGenerator(), bank=bank)
    a = sampler.sample([1, 2], torch.Generator().manual_seed(3))
    b = sampler.sample([1, 2], torch.Generator().manual_seed(3))
    c = sampler.sample([1, 2], torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a[:, :, 1], c[:, :, 1])
    assert not torch.equal(a[:, :, 3], c[:, :, 3])  # noise follows the seed


def test_z_pool_gives_at_most_m_views(tmp_path):
    bank, _ = make_bank(tmp_path / 'bank')
    sampler = LMASampler(MockGenerator(), bank=bank, z_pool_size=3)
    assert sampler.noise_mode == 'const'  # noise would add views
    outs = sampler.sample(torch.full((200, ), 4)).numpy()
    assert len({o.tobytes() for o in outs}) == 3
    # one global pool: another image uses the same three latents
    z_rows = {o[0, 1].tobytes() for o in outs}
    other = sampler.sample(torch.full((100, ), 5)).numpy()
    assert {o[0, 1].tobytes() for o in other} == z_rows
    same_seed = LMASampler(MockGenerator(), bank=bank, z_pool_size=3)
    assert torch.equal(same_seed.z_pool, sampler.z_pool)
    with pytest.raises(ValueError, match='z_pool_size'):
        LMASampler(MockGenerator(), bank=bank, z_pool_size=0)


def test_center_crop(tmp_path):
    bank, rows = make_bank(tmp_path / 'bank', d=8)
    sampler = LMASampler(MockGenerator(cond_dim=8), bank=bank,
                         center_crop=6, noise_mode='none')
    full = LMASampler(MockGenerator(cond_dim=8), bank=bank,
                      noise_mode='none')
    g = torch.Generator
    out = sampler.sample([3], g().manual_seed(0))
    ref = full.sample([3], g().manual_seed(0))
    assert out.shape == (1, 1, 6, 6)
    assert torch.equal(out, ref[..., 1:7, 1:7])
    with pytest.raises(ValueError, match=r'center_crop .*\[1, 8\]'):
        LMASampler(MockGenerator(cond_dim=8), bank=bank, center_crop=9)


def test_checkpoint_prefix_is_loaded_strictly(tmp_path):
    bank, _ = make_bank(tmp_path / 'bank')
    ckpt = save_gan_ckpt(tmp_path / 'gan.pth', scale=0.5)
    sampler = LMASampler(dict(type='LMAMockGenerator'), checkpoint=ckpt,
                         bank=bank, noise_mode='none')
    assert sampler.generator.scale.item() == 0.5  # the EMA weights
    out = sampler.sample([0])
    assert torch.allclose(out[0, 0, 4], torch.full((8, ), -0.5))
    raw = LMASampler(MockGenerator(), checkpoint=ckpt, bank=bank,
                     prefix='generator.')
    assert raw.generator.scale.item() == 9.0
    with pytest.raises(KeyError, match=r"prefix='gen_ema\.'.*generator"):
        LMASampler(MockGenerator(), checkpoint=ckpt, bank=bank,
                   prefix='gen_ema.')
    bad = save_gan_ckpt(tmp_path / 'bad.pth',
                        extra={'generator_ema.extra': torch.ones(1)})
    with pytest.raises(RuntimeError, match='extra'):
        LMASampler(MockGenerator(), checkpoint=bad, bank=bank)


def test_bank_and_generator_must_agree(tmp_path):
    bank, _ = make_bank(tmp_path / 'bank', d=5)
    with pytest.raises(ValueError, match=r'cond_dim=4 .*bank dim=5'):
        LMASampler(MockGenerator(cond_dim=4), bank=bank)
    with pytest.raises(ValueError, match='unconditional'):
        LMASampler(MockGenerator(cond_dim=0), bank=bank)
    with pytest.raises(ValueError, match='feature bank is required'):
        LMASampler(MockGenerator(cond_dim=4))
    uncond = LMASampler(MockGenerator(cond_dim=0))
    assert uncond.sample([0, 1]).shape == (2, 1, 8, 8)
    with pytest.raises(ValueError, match='noise_mode'):
        LMASampler(MockGenerator(cond_dim=0), noise_mode='fixed')
    with pytest.raises(ValueError, match='truncation'):
        LMASampler(MockGenerator(cond_dim=0), truncation=1.5)
    with pytest.raises(AttributeError, match='z_dim'):
        LMASampler(nn.Linear(2, 2))
    # bank given as a folder; out-of-range rows are refused
    bank4, _ = make_bank(tmp_path / 'bank4', n=3)
    sampler = LMASampler(MockGenerator(), bank=str(tmp_path / 'bank4'))
    with pytest.raises(IndexError, match=r'3 is out of range \[0, 3\)'):
        sampler.sample([3])


def test_with_the_stylegan2_generator(tmp_path):
    """The real generator behind the interface: a tiny conditional
    StyleGAN2 at 32 px, EMA weights from a GAN checkpoint, cropped to 28."""
    import mmmix.models  # noqa: F401  (registers the generators)
    if MODELS.get('StyleGAN2Generator') is None:
        pytest.skip('mmmix.StyleGAN2Generator is not available')
    cfg = dict(type='StyleGAN2Generator', resolution=32, img_channels=1,
               z_dim=8, w_dim=8, cond_dim=4, channel_base=64, channel_max=8)
    torch.manual_seed(0)
    ema = MODELS.build(cfg)
    state = {'generator_ema.' + k: v for k, v in ema.state_dict().items()}
    torch.save(dict(state_dict=state), str(tmp_path / 'gan.pth'))
    bank, _ = make_bank(tmp_path / 'bank', n=5, d=4)
    torch.manual_seed(1)  # a differently initialised generator is built
    sampler = LMASampler(cfg, checkpoint=str(tmp_path / 'gan.pth'),
                         bank=bank, center_crop=28, noise_mode='const')
    g = torch.Generator
    out = sampler.sample([0, 3], g().manual_seed(0))
    assert out.shape == (2, 1, 28, 28)
    assert out.min() >= -1 and out.max() <= 1
    z = torch.randn(2, 8, generator=g().manual_seed(0))
    with torch.no_grad():
        ref = ema(z, bank[[0, 3]], noise_mode='const').clamp(-1, 1)
    assert torch.allclose(out, ref[..., 2:30, 2:30], atol=1e-6)
