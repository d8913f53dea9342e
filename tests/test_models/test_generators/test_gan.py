"""The GAN model: D / G losses, lazy R1 and the EMA schedule against hand
computations (the random draws of a step replayed from a re-seeded RNG),
no gradient leaking from the G step into D, input checks, val_step, the
data preprocessor, a short training smoke run and a runner-level run of
the Fashion-MNIST config (validation with the Frechet distance, best
checkpoint, resume)."""
import copy
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.hooks import Hook
from mmpretrain.structures import DataSample

from mmmix.engine.optimizers import GANOptimWrapperConstructor
from mmmix.models.generators import GAN, GANDataPreprocessor
from mmmix.ops.diffaugment import diff_augment
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)

RES = 8
Z_DIM = 6
TINY = dict(channel_base=64, channel_max=8)
LEARNED_VIEWS_CFG = osp.join(
    ROOT, 'configs/learned_views/stylegan2-c32_1xb32-2400it_'
    'fashionmnist-20k.py')


@MODELS.register_module(force=True)
class LinearTestDiscriminator(nn.Module):
    """``D(x, cond) = x.flatten(1) @ w``: grad_x D = w for every sample."""

    def __init__(self, resolution, img_channels=1, cond_dim=0):
        super().__init__()
        self.resolution = resolution
        self.img_channels = img_channels
        self.cond_dim = cond_dim
        self.w = nn.Parameter(
            torch.randn(img_channels * resolution**2) * 0.1)

    def forward(self, x, cond=None):
        return (x.flatten(1) @ self.w)[:, None]


def _gen_cfg(cond_dim=0, resolution=RES):
    return dict(type='mmmix.StyleGAN2Generator', resolution=resolution,
                img_channels=1, z_dim=Z_DIM, w_dim=8, cond_dim=cond_dim,
                **TINY)


def _disc_cfg(kind='stylegan', cond_dim=0, resolution=RES):
    if kind == 'linear':
        return dict(type='LinearTestDiscriminator', resolution=resolution,
                    img_channels=1, cond_dim=cond_dim)
    return dict(type='mmmix.StyleGAN2Discriminator', resolution=resolution,
                img_channels=1, cond_dim=cond_dim, **TINY)


def _gan(disc='stylegan', cond_dim=0, seed=0, **kwargs):
    torch.manual_seed(seed)
    model = GAN(_gen_cfg(cond_dim), _disc_cfg(disc, cond_dim), **kwargs)
    model.init_weights()
    return model


def _optim(model, lr=0.0025):
    adam = dict(type='Adam', lr=lr, betas=(0., 0.99))
    return GANOptimWrapperConstructor(
        dict(generator=dict(type='OptimWrapper', optimizer=adam),
             discriminator=dict(type='OptimWrapper', optimizer=adam)))(model)


def _batch(b=4, size=RES, cond_dim=0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs = torch.randint(0, 256, (b, 1, size, size), dtype=torch.uint8,
                           generator=gen)
    samples = []
    for _ in range(b):
        s = DataSample()
        if cond_dim:
            s.set_field(torch.randn(cond_dim, generator=gen), 'cond')
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


# ------------------------------------------------------------- R1, losses
def test_r1_equals_squared_norm_of_linear_d():
    model = _gan('linear', r1_gamma=0.5, r1_interval=4)
    ow = _optim(model)
    w = model.discriminator.w.detach().clone()
    r1s = []
    for step in range(6):
        w_before = model.discriminator.w.detach().clone()
        log = model.train_step(_batch(seed=step), ow)
        if step % 4 == 0:
            r1s.append(float(log['r1']))
            torch.testing.assert_close(log['r1'], w_before.square().sum(),
                                       rtol=1e-6, atol=0)
        else:
            assert 'r1' not in log
    assert len(r1s) == 2
    assert r1s[0] == pytest.approx(float(w.square().sum()), rel=1e-6)
    assert int(model.d_steps) == 6
    # r1_interval=0: never
    model = _gan('linear', r1_gamma=0.5, r1_interval=0)
    assert 'r1' not in model.train_step(_batch(), _optim(model))


@pytest.mark.parametrize('disc,policy,r1_interval', [
    ('linear', None, 4),
    ('stylegan', None, 0),
    ('stylegan', 'color,translation,cutout', 0),
])
def test_losses_equal_hand_computation(disc, policy, r1_interval):
    model = _gan(disc, r1_gamma=0.5, r1_interval=r1_interval,
                 diffaug_policy=policy)
    ow = _optim(model)
    data = _batch(4)
    g0 = copy.deepcopy(model.generator)
    d0 = copy.deepcopy(model.discriminator)
    real = model.data_preprocessor(copy.deepcopy(data), True)['inputs']
    aug = ((lambda x: diff_augment(x, policy.split(','))) if policy else
           (lambda x: x))

    torch.manual_seed(123)
    log = model.train_step(data, ow)
    torch.manual_seed(123)  # replay: z, G's noise, aug(real), aug(fake)
    with torch.no_grad():
        fake = g0(torch.randn(4, Z_DIM))
        d_real = d0(aug(real))
        d_fake = d0(aug(fake))
        loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
        if disc == 'linear' and r1_interval:
            loss_d = loss_d + 0.5 / 2 * r1_interval * d0.w.square().sum()
        # G step: fresh z, the generator before its update, the updated D
        fake2 = g0(torch.randn(4, Z_DIM))
        loss_g = F.softplus(-model.discriminator(aug(fake2))).mean()
    torch.testing.assert_close(log['loss_d'], loss_d, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(log['d_real'], d_real.mean(), rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(log['d_fake'], d_fake.mean(), rtol=1e-5,
                               atol=1e-6)
    torch.testing.assert_close(log['loss_g'], loss_g, rtol=1e-5, atol=1e-6)
    # both networks moved
    assert not torch.equal(
        torch.cat([p.flatten() for p in d0.parameters()]),
        torch.cat([p.flatten() for p in model.discriminator.parameters()]))
    assert not torch.equal(
        torch.cat([p.flatten() for p in g0.parameters()]),
        torch.cat([p.flatten() for p in model.generator.parameters()]))


# --------------------------------------------------------------------- EMA
@pytest.mark.parametrize('ema_rampup', [1.0, None, 0.05])
def test_ema_schedule_and_update(ema_rampup):
    model = _gan(ema_kimg=0.01, ema_rampup=ema_rampup)  # 10 images
    ow = _optim(model, lr=0.01)
    b = 4
    for step in range(1, 4):
        old = [p.detach().clone() for p in model.generator_ema.parameters()]
        log = model.train_step(_batch(b, seed=step), ow)
        nimg = step * b
        assert int(model.cur_nimg) == nimg
        ema_nimg = 10 if ema_rampup is None else min(10, nimg * ema_rampup)
        beta = 0.5**(b / ema_nimg)
        assert float(log['ema_beta']) == pytest.approx(beta, rel=1e-6)
        for p_old, p_ema, p in zip(old, model.generator_ema.parameters(),
                                   model.generator.parameters()):
            torch.testing.assert_close(p_ema, p_old + (1 - beta) *
                                       (p.detach() - p_old), rtol=1e-5,
                                       atol=1e-6)
        for b_ema, buf in zip(model.generator_ema.buffers(),
                              model.generator.buffers()):
            assert torch.equal(b_ema, buf)
    if ema_rampup == 1.0:  # third step: 12 images > 10, no longer ramped
        assert float(log['ema_beta']) == pytest.approx(0.5**0.4)
    assert not any(p.requires_grad
                   for p in model.generator_ema.parameters())


# ------------------------------------------------- gradients and optimisers
@pytest.mark.parametrize('disc', ['linear', 'stylegan'])
def test_generator_step_leaves_no_gradient_in_d(disc):
    model = _gan(disc, cond_dim=3, r1_interval=2)
    ow = _optim(model)
    for step in range(3):
        model.train_step(_batch(cond_dim=3, seed=step), ow)
        for name, p in model.discriminator.named_parameters():
            assert p.grad is None or not p.grad.any(), name
            assert p.requires_grad, name  # unfrozen again
        for name, p in model.generator_ema.named_parameters():
            assert p.grad is None, name
    # the wrappers hold exactly the sub-networks' parameters
    ids = {k: {id(p) for g in ow[k].optimizer.param_groups
               for p in g['params']}
           for k in ('generator', 'discriminator')}
    assert ids['generator'] == {id(p) for p in model.generator.parameters()}
    assert ids['discriminator'] == {
        id(p) for p in model.discriminator.parameters()}
    assert not ({id(p) for p in model.generator_ema.parameters()}
                & (ids['generator'] | ids['discriminator']))


# ------------------------------------------------------------ bad configs
def test_bad_configs_raise():
    with pytest.raises(ValueError, match='disagree'):
        GAN(_gen_cfg(cond_dim=4), _disc_cfg(cond_dim=3))
    with pytest.raises(ValueError, match='disagree'):
        GAN(_gen_cfg(cond_dim=4), _disc_cfg(cond_dim=0))
    with pytest.raises(ValueError, match='disagree'):
        GAN(_gen_cfg(), _disc_cfg(resolution=16))
    with pytest.raises(ValueError, match='r1_gamma'):
        GAN(_gen_cfg(), _disc_cfg(), r1_gamma=-1)
    with pytest.raises(ValueError, match='ema_kimg'):
        GAN(_gen_cfg(), _disc_cfg(), ema_kimg=0)
    with pytest.raises(ValueError, match='rotate'):
        GAN(_gen_cfg(), _disc_cfg(), diffaug_policy='color,rotate')


def test_icgan_without_cond_raises_naming_cond():
    model = _gan(cond_dim=3)
    with pytest.raises(ValueError, match="'cond'"):
        model.train_step(_batch(), _optim(model))
    with pytest.raises(ValueError, match="'cond'"):
        model.val_step(_batch())
    # one sample without cond is as bad as none
    data = _batch(cond_dim=3)
    data['data_samples'][1] = DataSample()
    with pytest.raises(ValueError, match="'cond'"):
        model.val_step(data)


# ---------------------------------------------------------------- val_step
@pytest.mark.parametrize('cond_dim', [0, 3])
def test_val_step_samples_the_ema_generator(cond_dim):
    # a long half-life: the EMA generator stays near its initial weights
    model = _gan(cond_dim=cond_dim, val_noise_mode='const', ema_kimg=10,
                 ema_rampup=None)
    model.train_step(_batch(cond_dim=cond_dim), _optim(model, lr=0.05))
    model.eval()
    data = _batch(5, size=6, cond_dim=cond_dim, seed=3)  # padded to 8
    torch.manual_seed(7)
    out = model.val_step(data)
    assert len(out) == 5
    real = model.data_preprocessor(copy.deepcopy(data), False)['inputs']
    cond = (torch.stack([s.cond for s in data['data_samples']])
            if cond_dim else None)
    torch.manual_seed(7)
    z = torch.randn(5, Z_DIM)
    with torch.no_grad():
        ema = model.generator_ema(z, cond, noise_mode='const').clamp(-1, 1)
        raw = model.generator(z, cond, noise_mode='const')
    for i, s in enumerate(out):
        assert isinstance(s, DataSample)
        assert s.real_img.shape == s.fake_img.shape == (1, RES, RES)
        for img in (s.real_img, s.fake_img):
            assert img.min() >= -1 and img.max() <= 1
        assert torch.equal(s.real_img, real[i])
        torch.testing.assert_close(s.fake_img, ema[i])
    # the EMA generator, not the trained one
    assert not torch.allclose(ema, raw.clamp(-1, 1))
    assert model.test_step(data)[0].fake_img.shape == (1, RES, RES)


# ------------------------------------------------------------ preprocessor
def test_data_preprocessor_scale_pad_crop():
    pre = GANDataPreprocessor(resolution=32, pad_value=0.25)
    img = torch.randint(0, 256, (2, 1, 28, 28), dtype=torch.uint8)
    img[0, 0, 0, 0], img[0, 0, 0, 1] = 0, 255
    out = pre(dict(inputs=img))
    x = out['inputs']
    assert x.shape == (2, 1, 32, 32) and x.dtype == torch.float32
    assert out['cond'] is None
    centre = x[:, :, 2:30, 2:30]
    assert centre[0, 0, 0, 0] == -1 and centre[0, 0, 0, 1] == 1
    torch.testing.assert_close(centre, img.double().div(127.5).sub(1).float())
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (x[:, :, border] == 0.25).all()
    # a list of tensors, odd padding (29 -> 32: 1 before, 2 after)
    img29 = torch.randint(0, 256, (1, 29, 29), dtype=torch.uint8)
    x = pre(dict(inputs=[img29, img29]))['inputs']
    assert x.shape == (2, 1, 32, 32)
    torch.testing.assert_close(x[0, :, 1:30, 1:30],
                               img29.float() / 127.5 - 1)
    assert (x[:, :, 0] == 0.25).all() and (x[:, :, 30:] == 0.25).all()
    # centred crop 36 -> 32
    img36 = torch.randint(0, 256, (2, 3, 36, 36), dtype=torch.uint8)
    x = pre(dict(inputs=img36))['inputs']
    torch.testing.assert_close(x, img36[:, :, 2:34, 2:34].float() / 127.5 -
                               1)
    # the default pad value is -1 (a 0 pixel)
    x = GANDataPreprocessor(32)(dict(inputs=img))['inputs']
    assert (x[:, :, border] == -1).all()


def test_data_preprocessor_stacks_cond():
    pre = GANDataPreprocessor(resolution=RES)
    data = _batch(3, cond_dim=4)
    out = pre(data)
    assert out['cond'].shape == (3, 4) and out['cond'].dtype == torch.float32
    torch.testing.assert_close(
        out['cond'], torch.stack([s.cond for s in data['data_samples']]))
    assert len(out['data_samples']) == 3  # passed on (copied to device)


# ---------------------------------------------------------------- smoke run
def _two_blobs(n, seed=0):
    """8x8 grey images with one bright 3x3 blob, top-left or bottom-right,
    jittered by a pixel."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((n, 1, 8, 8), np.uint8)
    for i in range(n):
        y, x = (1, 1) if i % 2 else (4, 4)
        y, x = y + rng.integers(0, 2), x + rng.integers(0, 2)
        imgs[i, 0, y:y + 3, x:x + 3] = 200 + rng.integers(0, 55)
    return torch.from_numpy(imgs)


def test_short_training_keeps_losses_finite():
    model = _gan(r1_gamma=0.01, r1_interval=4, ema_kimg=0.05,
                 diffaug_policy='color,translation,cutout')
    ow = _optim(model)
    images = _two_blobs(64)
    g0 = [p.detach().clone() for p in model.generator.parameters()]
    torch.manual_seed(0)
    for step in range(30):
        idx = torch.randperm(64)[:8]
        data = dict(inputs=images[idx],
                    data_samples=[DataSample() for _ in range(8)])
        log = model.train_step(data, ow)
        for key, value in log.items():
            assert torch.isfinite(value).all(), (step, key, value)
    assert int(model.cur_nimg) == 240 and int(model.d_steps) == 30
    assert any(not torch.equal(a, p)
               for a, p in zip(g0, model.generator.parameters()))
    samples = model.sample(4)
    assert samples.shape == (4, 1, 8, 8)
    assert torch.isfinite(samples).all() and samples.abs().max() <= 1


# ------------------------------------------------------------ runner level
class _Record(Hook):
    def __init__(self):
        self.first = None

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if self.first is None:
            self.first = (runner.iter, int(runner.model.cur_nimg))


def _runner_cfg(fashion_root, work_dir, batch=8):
    from tests.conftest import load_config
    cfg = load_config(LEARNED_VIEWS_CFG)
    cfg.work_dir = str(work_dir)
    # 16 px (28 -> 16 centre crop): raw-pixel Frechet statistics of 256
    # dims instead of 1024 keep the three validations fast
    for key in ('generator', 'discriminator', 'data_preprocessor'):
        cfg.model[key].resolution = 16
    for key in ('generator', 'discriminator'):
        cfg.model[key].update(TINY)
    cfg.model.r1_interval = 2
    cfg.model.ema_kimg = 0.1
    for key, n in (('train_dataloader', 32), ('val_dataloader', 16)):
        loader = cfg[key]
        loader.update(batch_size=batch, num_workers=0,
                      persistent_workers=False)
        # no serialisation: it runs gc.collect, slow in a test session
        loader.dataset.update(data_root=fashion_root, indices=n,
                              serialize_data=False)
    cfg.test_dataloader = copy.deepcopy(cfg.val_dataloader)
    cfg.val_evaluator = dict(type='mmmix.FrechetDistance', feature_net=None)
    cfg.test_evaluator = copy.deepcopy(cfg.val_evaluator)
    cfg.train_cfg.update(max_iters=4, val_interval=2)
    cfg.default_hooks.checkpoint.update(interval=2, max_keep_ckpts=-1)
    cfg.default_hooks.logger.interval = 1
    cfg.log_level = 'WARNING'
    return cfg


def test_runner_trains_validates_keeps_best_and_resumes(fashion_root,
                                                        tmp_path):
    from mmengine.runner import load_checkpoint

    from mmmix.engine import build_runner
    cfg = _runner_cfg(fashion_root, tmp_path / 'run')
    assert cfg.default_hooks.checkpoint.save_best == 'fd'
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 4 and int(runner.model.cur_nimg) == 32
    work = str(tmp_path / 'run')
    assert osp.isfile(osp.join(work, 'iter_2.pth'))
    assert osp.isfile(osp.join(work, 'iter_4.pth'))
    best = glob.glob(osp.join(work, 'best_fd_iter_*.pth'))
    assert len(best) == 1, best
    fd = runner.message_hub.get_info('best_score')
    assert fd is not None and math.isfinite(fd) and fd > 0
    ckpt = torch.load(osp.join(work, 'iter_2.pth'), map_location='cpu',
                      weights_only=False)
    state = ckpt['state_dict']
    assert int(state['cur_nimg']) == 16
    assert any(k.startswith('generator_ema.') for k in state)
    assert any(k.startswith('discriminator.') for k in state)
    assert set(ckpt['optimizer']) >= {'generator', 'discriminator'}

    # resume from iteration 2 in a fresh work dir
    cfg = _runner_cfg(fashion_root, tmp_path / 'resumed')
    cfg.resume = True
    cfg.load_from = osp.join(work, 'iter_2.pth')
    resumed = build_runner(cfg)
    record = _Record()
    resumed.register_hook(record, priority='LOWEST')
    resumed.train()
    assert record.first == (2, 16)
    assert resumed.iter == 4 and int(resumed.model.cur_nimg) == 32
    # the EMA generator of the checkpoint is what was restored
    model = copy.deepcopy(resumed.model)
    load_checkpoint(model, osp.join(work, 'iter_2.pth'), map_location='cpu')
    assert torch.equal(model.generator_ema.const, state[
        'generator_ema.const'])


def test_counters_follow_a_loaded_state_dict():
    """The host copies of d_steps / cur_nimg (no sync per step) are
    re-read after load_state_dict, so the lazy-R1 phase and the EMA
    ramp-up continue from a loaded checkpoint."""
    from mmmix.models.generators import GAN
    cfg = dict(type='mmmix.StyleGAN2Generator', resolution=8,
               img_channels=1, z_dim=4, w_dim=4, channel_base=32,
               channel_max=4)
    gan = GAN(generator=cfg, discriminator=dict(
        type='mmmix.StyleGAN2Discriminator', resolution=8, img_channels=1,
        channel_base=32, channel_max=4), r1_interval=4)
    gan._host_counts = [3, 96]
    state = gan.state_dict()
    state['d_steps'] = torch.tensor(8)
    state['cur_nimg'] = torch.tensor(256)
    gan.load_state_dict(state)
    assert gan._host_counts is None
    beta = gan.update_ema(32)  # reads the buffer: 0.5 ** (32 / (256 * .05))
    assert abs(beta - 0.5**(32 / (256 * 0.05))) < 1e-12
