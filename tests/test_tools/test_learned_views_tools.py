"""tools/learned_views: invert_dataset, build_view_cache and calibrate_eps
run through their main(argv) on a tiny GAN checkpoint and a generated
Fashion-MNIST: shapes, split builds equal to single runs, resumption,
metadata, W-perturb at sigma 0 equal to the reconstruction (and to an
independent re-synthesis from the stored latents), dataset checks of the
cache, and the calibration's identity oracle."""
import json
import os.path as osp

import numpy as np
import pytest
import torch

from mmmix.datasets import FashionMNIST, ViewCache
from mmmix.datasets.feature_bank import file_sha256
from mmmix.engine import build_model_from_cfg
from mmmix.engine.view_generation import batch_plan, crop_to
from mmmix.ops.latent_views import truncate
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.conftest import make_fashion_like, tiny_quickstart_cfg
from tests.test_tools.test_train_args import load_tool

register_all_modules(init_default_scope=False)

GAN_CFG = '''
default_scope = 'mmmix'
_tiny = dict(channel_base=64, channel_max=8)
model = dict(
    type='mmmix.GAN',
    generator=dict(type='mmmix.StyleGAN2Generator', resolution=32,
                   img_channels=1, z_dim=6, w_dim=8, **_tiny),
    discriminator=dict(type='mmmix.StyleGAN2Discriminator', resolution=32,
                       img_channels=1, **_tiny),
    data_preprocessor=dict(type='mmmix.GANDataPreprocessor', resolution=32,
                           pad_value=-1.0))
'''
N = 120  # images of the generated Fashion-MNIST


def _tool(name):
    return load_tool(f'learned_views/{name}.py')


@pytest.fixture(scope='module')
def assets(fashion_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp('learned_views')
    gan_cfg = str(tmp / 'gan.py')
    with open(gan_cfg, 'w') as f:
        f.write(GAN_CFG)
    from mmengine.config import Config
    torch.manual_seed(0)
    gan = MODELS.build(Config.fromfile(gan_cfg).model)
    with torch.no_grad():
        g = gan.generator_ema
        g.w_avg.copy_(g.mapping(torch.randn(256, 6))[:, 0].mean(0))
        for layer in g.layers:
            layer.noise_strength.fill_(0.1)
    gan_ckpt = str(tmp / 'gan.pth')
    torch.save(dict(state_dict=gan.state_dict(), meta=dict()), gan_ckpt)
    cfg = tiny_quickstart_cfg(fashion_root, tmp / 'work')
    cfg.train_dataloader.drop_last = True  # must not drop any row
    cfg.train_dataloader.batch_size = 50
    data_cfg = str(tmp / 'data.py')
    cfg.dump(data_cfg)
    torch.manual_seed(1)
    model = build_model_from_cfg(cfg)
    enc_ckpt = str(tmp / 'enc.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), enc_ckpt)
    return dict(tmp=tmp, gan_cfg=gan_cfg, gan_ckpt=gan_ckpt, gen=g.eval(),
                data_cfg=data_cfg, enc_ckpt=enc_ckpt, cfg=cfg)


def _invert_args(a, out, *extra):
    return [a['gan_cfg'], a['gan_ckpt'], a['data_cfg'], '--out', str(out),
            '--steps', '4', '--batch-size', '50', '--no-progress', *extra]


@pytest.fixture(scope='module')
def inverted(assets):
    tool = _tool('invert_dataset')
    single = assets['tmp'] / 'lat_single'
    split = assets['tmp'] / 'lat_split'
    s_single = tool.main(_invert_args(assets, single))
    s_part0 = tool.main(_invert_args(assets, split, '--part', '0',
                                     '--num-parts', '2'))
    with pytest.raises(FileNotFoundError, match='partial'):
        ViewCache.open(str(split))
    s_part1 = tool.main(_invert_args(assets, split, '--part', '1',
                                     '--num-parts', '2'))
    return dict(single=str(single), split=str(split), s_single=s_single,
                s_part0=s_part0, s_part1=s_part1)


def test_batch_plan_parts_cover_global_batches():
    full = batch_plan(120, 50)
    assert [k for k, _ in full] == [0, 1, 2]
    assert np.array_equal(np.concatenate([r for _, r in full]),
                          np.arange(120))
    parts = [batch_plan(120, 50, p, 2) for p in range(2)]
    assert [[k for k, _ in p] for p in parts] == [[0, 1], [2]]
    assert batch_plan(3, 5, 1, 2) == []  # more parts than batches
    with pytest.raises(ValueError, match='part'):
        batch_plan(10, 5, 2, 2)


def test_inversion_writes_every_row_and_splits_equal(assets, inverted):
    s0, s1 = inverted['s_part0'], inverted['s_part1']
    assert s0['rows_inverted'] == 100 and s0['rows_missing'] == 20
    assert not s0['finalized']
    assert s1['rows_inverted'] == 20 and s1['finalized']
    single = ViewCache.open(inverted['single'])
    split = ViewCache.open(inverted['split'])
    assert single.latents.shape == (N, 8, 8)  # num_ws = 2 log2(32) - 2
    assert single.latents.dtype == np.float32
    assert single.views.shape == (1, N, 28, 28)
    np.testing.assert_array_equal(split.latents, single.latents)
    np.testing.assert_array_equal(split.views, single.views)
    for name in ('recon_mse.npy', 'recon_mse_init.npy'):
        a = np.load(osp.join(inverted['single'], name))
        np.testing.assert_array_equal(
            np.load(osp.join(inverted['split'], name)), a)
        assert a.shape == (N, ) and np.isfinite(a).all()


def test_inversion_meta_and_reconstruction(assets, inverted, fashion_root):
    cache = ViewCache.open(inverted['single'], dataset=FashionMNIST(
        data_root=fashion_root, pipeline=[], serialize_data=False))
    meta = cache.meta
    assert meta['method'] == 'reconstruction'
    assert meta['checkpoint_sha256'] == file_sha256(assets['gan_ckpt'])
    assert meta['fingerprint']['num_samples'] == N
    hp = meta['hparams']
    assert (hp['steps'], hp['lr'], hp['truncation'], hp['init']) == (
        4, 0.05, 0.7, 'w_avg')
    mse = np.load(osp.join(inverted['single'], 'recon_mse.npy'))
    mse0 = np.load(osp.join(inverted['single'], 'recon_mse_init.npy'))
    assert meta['recon_mse_mean'] == pytest.approx(mse.mean(), rel=1e-5)
    assert meta['recon_mse_mean'] < meta['recon_mse_init_mean']
    assert (mse < mse0).mean() > 0.9
    # independent oracle: re-synthesise the stored codes, crop, quantise
    gen = assets['gen']
    w = torch.from_numpy(np.array(cache.latents[:10]))
    with torch.no_grad():
        img = gen.synthesis(truncate(w, gen.w_avg, 0.7)).clamp(-1, 1)
    img = crop_to(img, 28, 28)[:, 0]
    q = np.rint((img.double().numpy() + 1) * 127.5)
    assert np.abs(q - cache.views[0, :10]).max() <= 1
    (xtr, _), _ = make_fashion_like()
    x = xtr[:10].astype(np.float64) / 127.5 - 1
    np.testing.assert_allclose(((img.double().numpy() - x)**2).mean((1, 2)),
                               mse[:10], rtol=1e-4)


def test_inversion_resumes_and_refuses_other_settings(assets, inverted):
    tool = _tool('invert_dataset')
    again = tool.main(_invert_args(assets, inverted['single']))
    assert again['rows_inverted'] == 0 and again['finalized']
    with pytest.raises(ValueError, match='hyper-parameters'):
        tool.main(_invert_args(assets, inverted['single'], '--lr', '0.1'))


def test_inversion_with_encoder_warm_start(assets, inverted):
    tool = _tool('invert_dataset')
    out = assets['tmp'] / 'lat_enc'
    s = tool.main(_invert_args(assets, out, '--encoder-steps', '3',
                               '--encoder-batch-size', '8',
                               '--encoder-channels', '4', '--encoder-only'))
    assert s['encoder'] == 'trained' and osp.isfile(s['encoder_file'])
    s = tool.main(_invert_args(
        assets, out, '--encoder-steps', '3', '--encoder-batch-size', '8',
        '--encoder-channels', '4', '--steps', '1', '--perceptual-config',
        assets['data_cfg'], '--perceptual-ckpt', assets['enc_ckpt'],
        '--lambda-perc', '0.5'))
    assert s['encoder'] == 'loaded' and s['finalized']
    meta = ViewCache.open(str(out)).meta
    hp = meta['hparams']
    assert hp['init'] == 'encoder' and hp['lambda_dom'] == 2.0
    assert hp['lambda_perc'] == 0.5 and hp['perceptual_sha256'] == (
        file_sha256(assets['enc_ckpt']))
    # another warm start than w_avg: other initial errors
    assert meta['recon_mse_init_mean'] != pytest.approx(
        ViewCache.open(inverted['single']).meta['recon_mse_init_mean'])
    with pytest.raises(ValueError, match='other settings'):
        tool.main(_invert_args(assets, out, '--encoder-steps', '4',
                               '--encoder-channels', '4'))


def _cache_args(a, latents, out, *extra):
    return [a['gan_cfg'], a['gan_ckpt'], '--latents', latents, '--out',
            str(out), '--no-progress', *extra]


def test_wperturb_sigma0_is_the_reconstruction(assets, inverted):
    tool = _tool('build_view_cache')
    out = assets['tmp'] / 'wp0'
    s = tool.main(_cache_args(assets, inverted['single'], out, '--method',
                              'wperturb', '--sigma', '0', '--num-views',
                              '2', '--batch-size', '64'))
    assert s['finalized'] and s['truncation'] == 0.7  # the inversion's
    cache = ViewCache.open(str(out))
    recon = ViewCache.open(inverted['single']).views[0]
    assert cache.views.shape == (2, N, 28, 28)
    for slot in range(2):
        assert np.abs(cache.views[slot].astype(int) -
                      recon.astype(int)).max() <= 1


def test_wperturb_split_equals_single_and_meta(assets, inverted,
                                               fashion_root):
    tool = _tool('build_view_cache')
    args = ['--method', 'wperturb', '--sigma', '0.2', '--num-views', '3',
            '--batch-size', '32', '--seed', '5', '--data-config',
            assets['data_cfg']]
    single, split = assets['tmp'] / 'wp_single', assets['tmp'] / 'wp_split'
    s = tool.main(_cache_args(assets, inverted['single'], single, *args))
    assert s['rows_written'] == N and s['finalized']
    p0 = tool.main(_cache_args(assets, inverted['single'], split, *args,
                               '--part', '0', '--num-parts', '2'))
    assert not p0['finalized'] and 0 < p0['rows_missing'] < N
    p1 = tool.main(_cache_args(assets, inverted['single'], split, *args,
                               '--part', '1', '--num-parts', '2'))
    assert p1['finalized'] and p0['rows_written'] + p1['rows_written'] == N
    ds = FashionMNIST(data_root=fashion_root, pipeline=[],
                      serialize_data=False)
    a = ViewCache.open(str(single), dataset=ds)
    b = ViewCache.open(str(split), dataset=ds)
    np.testing.assert_array_equal(a.views, b.views)
    recon = ViewCache.open(inverted['single']).views[0].astype(int)
    assert not np.array_equal(a.views[0], a.views[1])
    assert np.abs(a.views[0].astype(int) - recon).mean() > 1
    meta = a.meta
    assert meta['method'] == 'wperturb'
    assert meta['hparams']['sigma'] == 0.2 and meta['hparams']['seed'] == 5
    assert meta['checkpoint_sha256'] == file_sha256(assets['gan_ckpt'])
    assert meta['latents']['hparams']['steps'] == 4
    assert meta['latents']['recon_mse_mean'] > 0
    assert meta['channel_order'] == 'rgb' and meta['layout'] == 'HW'
    # a dataset of another size is refused
    with pytest.raises(ValueError, match='num_samples'):
        ViewCache.open(str(single), dataset=FashionMNIST(
            data_root=fashion_root, pipeline=[], serialize_data=False,
            indices=100))
    # resuming a finished build writes nothing; other settings are refused
    again = tool.main(_cache_args(assets, inverted['single'], single, *args))
    assert again['rows_written'] == 0
    with pytest.raises(ValueError, match='hyper-parameters'):
        tool.main(_cache_args(assets, inverted['single'], single,
                              *args[:3], '0.3', *args[4:]))


def test_perturb_noise_depends_on_seed_and_row_only():
    tool = _tool('build_view_cache')
    w0 = torch.zeros(4, 8, 16)
    a = tool.perturb_batch(w0, [0, 1, 2, 3], 5, 0.2, 'gauss', 7)
    b = tool.perturb_batch(w0[2:], [2, 3], 5, 0.2, 'gauss', 7)
    assert a.shape == (5, 4, 8, 16)
    assert torch.equal(a[:, 2:], b)
    assert not torch.equal(a[:, 0], a[:, 1])
    assert a.std().item() == pytest.approx(0.2, rel=0.05)
    p = tool.perturb_batch(w0, [0, 1, 2, 3], 5, 0.2, 'proj', 7)
    norms = p.flatten(2).norm(dim=2)
    assert torch.allclose(norms, torch.full_like(norms, 0.2 * 128**0.5))


def test_wsearch_cache(assets, inverted, fashion_root):
    tool = _tool('build_view_cache')
    args = ['--method', 'wsearch', '--num-views', '2', '--steps', '3',
            '--lr', '0.05', '--init-noise', '0.01', '--batch-size', '8',
            '--max-samples', '16', '--encoder-config', assets['data_cfg'],
            '--encoder-ckpt', assets['enc_ckpt'], '--eps1', '0.3']
    single, split = assets['tmp'] / 'ws_single', assets['tmp'] / 'ws_split'
    s = tool.main(_cache_args(assets, inverted['single'], single, *args))
    assert s['finalized'] and s['num_samples'] == 16
    assert 0 <= s['anchor_dist_mean'] <= 2
    for part in range(2):
        tool.main(_cache_args(assets, inverted['single'], split, *args,
                              '--part', str(part), '--num-parts', '2'))
    a, b = ViewCache.open(str(single)), ViewCache.open(str(split))
    assert a.views.shape == (2, 16, 28, 28)
    np.testing.assert_array_equal(a.views, b.views)
    recon = ViewCache.open(inverted['single']).views[0, :16].astype(int)
    # copy 0 starts at the latent, but moves: the views are new images
    assert np.abs(a.views[1].astype(int) - recon).max() > 0
    meta = a.meta
    assert meta['method'] == 'wsearch' and meta['fingerprint'] is None
    assert meta['subset'] == dict(first_rows=16, of_num_samples=N)
    assert meta['hparams']['encoder_sha256'] == file_sha256(
        assets['enc_ckpt'])
    assert meta['hparams']['eps1'] == 0.3
    # the original image as the anchor (read through --data-config)
    orig = tool.main(_cache_args(
        assets, inverted['single'], assets['tmp'] / 'ws_orig', *args[:-2],
        '--max-samples', '8', '--anchor', 'orig', '--data-config',
        assets['data_cfg']))
    assert orig['finalized'] and orig['num_samples'] == 8
    assert ViewCache.open(orig['out']).meta['hparams']['anchor'] == 'orig'
    with pytest.raises(ValueError, match='fingerprint'):
        ViewCache.open(str(single), dataset=FashionMNIST(
            data_root=fashion_root, pipeline=[], serialize_data=False))


def test_build_view_cache_checks_the_gan(assets, inverted):
    tool = _tool('build_view_cache')
    other = str(assets['tmp'] / 'other_gan.pth')
    ckpt = torch.load(assets['gan_ckpt'], weights_only=False)
    ckpt['meta'] = dict(changed=True)
    torch.save(ckpt, other)
    with pytest.raises(ValueError, match='sha256'):
        tool.main([assets['gan_cfg'], other, '--latents', inverted['single'],
                   '--out', str(assets['tmp'] / 'bad'), '--method',
                   'wperturb'])
    with pytest.raises(SystemExit):
        tool.parse_args([assets['gan_cfg'], other, '--latents', 'x',
                         '--out', 'y', '--method', 'wsearch'])
    with pytest.warns(UserWarning, match='before its first step'):
        tool.parse_args([assets['gan_cfg'], other, '--latents', 'x',
                         '--out', 'y', '--method', 'wsearch',
                         '--encoder-config', 'c', '--encoder-ckpt', 'k',
                         '--eps1', '0.02'])


def test_calibrate_eps(assets, tmp_path, capsys):
    tool = _tool('calibrate_eps')
    args = [assets['data_cfg'], assets['enc_ckpt'], '--num-images', '24',
            '--batch-size', '12']
    s = tool.main(args)
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last) == json.loads(json.dumps(s))
    assert 0 < s['anchor_expert'] <= 2 and 0 < s['expert_expert'] <= 2
    assert s['eps1'] == s['anchor_expert']
    assert s['eps2'] == pytest.approx(s['eps1'] + 0.2)
    assert s['num_pairs'] == 24
    assert tool.main(args) == s  # seeded
    # identity expert transform: every distance is 0
    cfg = assets['cfg'].copy()
    cfg.train_dataloader.dataset.pipeline = [
        dict(type='MultiView', num_views=2, transforms=[[]]),
        dict(type='PackInputs')
    ]
    ident = str(tmp_path / 'ident.py')
    cfg.dump(ident)
    z = tool.main([ident, assets['enc_ckpt'], '--num-images', '8'])
    assert z['anchor_expert'] == pytest.approx(0, abs=1e-5)
    assert z['expert_expert'] == pytest.approx(0, abs=1e-5)
    cfg.train_dataloader.dataset.pipeline = [dict(type='PackInputs')]
    cfg.dump(ident)
    with pytest.raises(ValueError, match='MultiView'):
        tool.main([ident, assets['enc_ckpt'], '--num-images', '8'])
