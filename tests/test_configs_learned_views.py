"""The learned-views configs (``configs/learned_views``; spec
assimilating_views.md 2, 4.1, 5, 6.1, 6.2, 6.4, 9 U3 / U4 / U16, 10 A8-A13,
A20, A21, A25, A32).

No CIFAR / TinyImageNet / BigBiGAN data, no generator and no GPU here.
These tests check that every config parses; that the SimCLR configs carry
Table 9 and the code's settings per dataset (backbone, projector, tau,
alpha, base loss per variant, the SupContrast tau / 0.07 loss weight, lr,
weight decay, batch, epochs, warm-up and cosine floor, normalisation) and
the expert views; that each variant's views are what its name announces
(A1: expert + generated with crop_small and flip; A2: expert x 2 + the
generated view LAST with a flip; expert3: three expert views) and nothing
else changes; that the SimSiam / MoCo v2 / BYOL A2 configs (the last two
labelled extrapolations) are their baselines with the A2 model and the
generated view appended; that the GAN configs are unconditional and agree
with the encoder of their Frechet distance; and, on generated data of each
dataset's raw format with fabricated 8-view caches, that every training
pipeline yields its views and one A1 and one A2 config per base model (and
the GANs) train a few iterations with mmengine's runner with finite losses.
The generic ``tests/test_configs.py`` skips this folder: its configs need
caches it does not make.
"""
import glob
import os.path as osp
import re

import numpy as np
import pytest
from mmengine.registry import DefaultScope

from mmmix.datasets.transforms.generated_views import (
    check_generated_view_sources,
)
from mmmix.registry import DATASETS
from mmmix.utils import register_all_modules
from tests import genviews_config_utils as U
from tests.conftest import ROOT, load_config, parse_config, strip_scope

register_all_modules(init_default_scope=False)

LV_DIR = osp.join(ROOT, 'configs', 'learned_views')
LMA_DIR = osp.join(ROOT, 'configs', 'lma')
#: the pretraining configs (the evaluation configs of benchmarks/ are
#: tests/test_configs_genviews_eval.py's)
CONFIGS = sorted(f for f in glob.glob(osp.join(LV_DIR, '**', '*.py'),
                                      recursive=True)
                 if '_base_' not in f and not f.startswith(
                     osp.join(LV_DIR, 'benchmarks', '')))
IDS = [osp.relpath(c, LV_DIR) for c in CONFIGS]
FASHION_CACHE = 'work_dirs/genviews_fmnist/cache_wperturb'


def cfg_of(name):
    return parse_config(osp.join(LV_DIR, name))


def rgb255(values):
    return [round(255 * v, 4) for v in values]


#: Table 9 completed with the code (spec 6.1, 6.4, A10, A11, A20, A21)
SIMCLR = {
    'cifar10': dict(
        tail='simclr_resnet18-cifar_1xb128-coslr-800e_cifar10.py',
        backbone=('ResNet_CIFAR', 18),
        neck=dict(type='NonLinearNeck', in_channels=512, hid_channels=2048,
                  out_channels=2048, num_layers=2, with_last_bn=True,
                  with_last_bn_affine=False),
        batch=128, optimizer='SGD', lr=0.015, wd=5e-5, epochs=800,
        warmup_from=0.0, eta_min=0.0, tau=0.5, alpha=0.5,
        base_loss='infonce', a2_loss='infonce', loss_weight=1.0, size=32,
        mean=(0.4914, 0.4822, 0.4465), std=(0.2023, 0.1994, 0.2010),
        rgb=True, n=50000, generators=('wsearch', 'wperturb'),
        dataset='CIFAR10'),
    'cifar100': dict(
        tail='simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py',
        backbone=('ResNet_CIFAR', 50),
        neck=dict(type='MoCoV2Neck', in_channels=2048, hid_channels=2048,
                  out_channels=128),
        batch=512, optimizer='SGD', lr=0.5, wd=1e-4, epochs=1200,
        warmup_from=0.01, eta_min=5e-4, tau=0.5, alpha=0.5,
        base_loss='ntxent', a2_loss='infonce', loss_weight=0.5 / 0.07,
        size=32, mean=(0.5071, 0.4867, 0.4408),
        std=(0.2675, 0.2565, 0.2761), rgb=True, n=50000,
        generators=('wsearch', 'wperturb'), dataset='CIFAR100'),
    'tinyimagenet64': dict(
        tail='simclr_resnet18-cifar_4xb128-coslr-1000e_tinyimagenet64.py',
        backbone=('ResNet_CIFAR', 18),
        neck=dict(type='MoCoV2Neck', in_channels=512, hid_channels=512,
                  out_channels=128),
        batch=512, optimizer='SGD', lr=0.5, wd=1e-4, epochs=1000,
        warmup_from=0.01, eta_min=5e-4, tau=0.5, alpha=0.5,
        base_loss='ntxent', a2_loss='infonce', loss_weight=0.5 / 0.07,
        size=64, mean=(0.480, 0.448, 0.398), std=(0.277, 0.269, 0.282),
        rgb=False, n=100000, generators=('wsearch', 'wperturb'),
        dataset='CustomDataset'),
    'bigbigan-in1k': dict(
        tail='simclr_resnet50_16xb256-lars-coslr-100e_bigbigan-in1k.py',
        backbone=('ResNet', 50),
        neck=dict(type='NonLinearNeck', in_channels=2048, hid_channels=2048,
                  out_channels=128, num_layers=2, with_last_bn=True),
        batch=4096, optimizer='LARS', lr=4.8, wd=1e-6, epochs=100,
        warmup_from=0.0, eta_min=4.8e-3, tau=0.2, alpha=0.2,
        base_loss='infonce', a2_loss='infonce', loss_weight=1.0, size=224,
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225), rgb=False,
        n=None, generators=('wperturb', ), dataset='CustomDataset'),
}
#: variant prefix -> (uses a generated view, A2 loss)
VARIANTS = {'': (False, False), 'a1-wsearch_': (True, False),
            'a1-wperturb_': (True, False), 'a2-wsearch_': (True, True),
            'a2-wperturb_': (True, True), 'a2-expert3_': (False, True)}
EXT_TAIL = '_resnet18-cifar_1xb512-coslr-800e_cifar10.py'
#: the SimSiam (App. F) and extrapolated MoCo v2 / BYOL A2 configs: model
#: type, baseline config
CIFAR_A2 = {
    'simsiam': ('mmmix.A2SimSiam',
                osp.join(LMA_DIR, 'simsiam-wd5e-4' + EXT_TAIL)),
    'mocov2': ('mmmix.A2MoCoV2',
               osp.join(LMA_DIR, 'mocov2-wd5e-4' + EXT_TAIL)),
    'byol': ('mmmix.A2BYOL', osp.join(LV_DIR, 'byol' + EXT_TAIL)),
}
FASHION_TAIL = '_resnet18-w16_1xb256-3e_fashionmnist-20k.py'
FASHION = {
    'simclr' + FASHION_TAIL: None,
    'a1-wperturb_simclr' + FASHION_TAIL: 'a1',
    'a2-wperturb_simclr' + FASHION_TAIL: 'a2',
    'a2-wperturb_simsiam' + FASHION_TAIL: 'a2',
    'a2-wperturb_mocov2' + FASHION_TAIL: 'a2',
    'a2-wperturb_byol' + FASHION_TAIL: 'a2',
}
#: the GAN configs: resolution, the SimCLR baseline of their data
GANS = {
    'stylegan2-c512_1xb64-100000kimg_cifar10.py': (32, 'cifar10'),
    'stylegan2-c512_1xb64-100000kimg_cifar100.py': (32, 'cifar100'),
    'stylegan2-c512_1xb32-25000kimg_tinyimagenet64.py': (64,
                                                         'tinyimagenet64'),
}
FASHION_GAN = 'stylegan2-c32_1xb32-2400it_fashionmnist-20k.py'
#: the control of the Fashion SimSiam + A2 run: a third expert view
FASHION_EXPERT3 = 'a2-expert3_simsiam' + FASHION_TAIL


def simclr_names(ds):
    spec = SIMCLR[ds]
    names = {prefix + spec['tail'] for prefix in VARIANTS
             if not prefix or any(g in prefix for g in spec['generators'])
             or prefix == 'a2-expert3_'}
    if ds == 'bigbigan-in1k':
        names.discard('a2-expert3_' + spec['tail'])
    return names


def test_the_config_set_is_complete():
    expected = set()
    for ds in SIMCLR:
        expected |= simclr_names(ds)
    for method in CIFAR_A2:
        expected |= {f'a2-{g}_{method}{EXT_TAIL}'
                     for g in ('wsearch', 'wperturb')}
    expected |= {'byol' + EXT_TAIL} | set(FASHION) | set(GANS)
    expected |= {FASHION_GAN, FASHION_EXPERT3}
    assert set(IDS) == expected


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_loads(path):
    cfg = parse_config(path)  # Config.fromfile, once per session
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type


# ----------------------------------------------------------- SimCLR -------
def check_expert(view, spec):
    """The expert views of the code (spec 6.1; ImageNet: mmpretrain's
    SimCLR views, spec 6.4 gives none)."""
    imagenet = spec['size'] == 224
    kinds = [t['type'] for t in view]
    assert kinds == ['RandomResizedCrop', 'RandomFlip', 'RandomApply',
                     'RandomGrayscale'] + (['GaussianBlur'] if imagenet
                                           else [])
    crop = view[0]
    assert crop['scale'] == spec['size']
    assert tuple(crop.get('crop_ratio_range', (0.08, 1.))) == (
        (0.08, 1.) if imagenet else (0.2, 1.))
    assert view[1]['prob'] == 0.5
    strength = (0.8, 0.8, 0.8, 0.2) if imagenet else (0.4, 0.4, 0.4, 0.1)
    jitter, = view[2]['transforms']
    assert (jitter.brightness, jitter.contrast, jitter.saturation,
            jitter.hue) == strength
    assert view[2]['prob'] == 0.8
    weights = (0.2989, 0.587, 0.114)
    assert view[3]['prob'] == 0.2
    assert tuple(view[3]['channel_weights']) == (
        weights if spec['rgb'] else weights[::-1])


def check_generated(view, spec, generator, a2):
    load = view[0]
    assert load['type'] == U.LOAD_VIEW
    assert load['cache'].endswith(f'/cache_{generator}')
    assert load['num_use'] == 8  # 8 cached views, one drawn (spec 4.6)
    assert not load.get('include_original', False)
    assert load['channel_order'] == ('rgb' if spec['rgb'] else 'bgr')
    assert load['expected_num_samples'] == spec['n']
    rest = [dict(t) for t in view[1:]]
    assert rest[-1] == dict(type='RandomFlip', prob=0.5)
    if a2:  # A2: flip only (spec A13); the ImageNet script's crop
        if spec['size'] == 224:
            assert rest[:-1] == [dict(type='RandomResizedCrop', scale=224,
                                      interpolation='bicubic',
                                      backend='pillow')]
        else:
            assert rest[:-1] == []
    else:  # A1: crop_small (spec U3)
        crop, = rest[:-1]
        assert crop['scale'] == spec['size']
        assert tuple(crop['crop_ratio_range']) == (0.9, 1.)
        assert tuple(crop['aspect_ratio_range']) == (0.9, 1.1)


@pytest.mark.parametrize('ds', sorted(SIMCLR))
def test_simclr_recipe(ds):
    spec = SIMCLR[ds]
    base = cfg_of(spec['tail'])
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-',
                                       spec['tail']).groups())
    assert gpus * per_gpu == spec['batch']
    assert base.train_dataloader.batch_size == per_gpu
    assert base.auto_scale_lr.base_batch_size == spec['batch']
    assert base.train_dataloader.drop_last
    assert base.train_dataloader.dataset.type == spec['dataset']
    model = base.model
    assert model.type == 'mmmix.A2SimCLR' and model.head is None
    assert (model.backbone.type, model.backbone.depth) == spec['backbone']
    assert {k: model.neck[k] for k in spec['neck']} == spec['neck']
    assert (model.temperature, model.alpha) == (spec['tau'], spec['alpha'])
    assert model.loss_weight == pytest.approx(spec['loss_weight'])
    assert (model.align_anchors, model.forward_mode) == ('all', 'concat')
    assert model.base_loss == spec['base_loss']
    pre = base.data_preprocessor
    assert pre.mean == pytest.approx(rgb255(spec['mean']))
    assert pre.std == pytest.approx(rgb255(spec['std']))
    assert pre.to_rgb == (not spec['rgb'])
    opt = base.optim_wrapper.optimizer
    assert (opt.type, opt.weight_decay, opt.momentum) == (
        spec['optimizer'], spec['wd'], 0.9)
    assert opt.lr == pytest.approx(spec['lr'])
    epochs = spec['epochs']
    assert base.train_cfg.max_epochs == epochs
    warm, cosine = base.param_scheduler
    assert (warm.type, warm.begin, warm.end) == ('LinearLR', 0, 10)
    assert warm.start_factor * spec['lr'] == pytest.approx(
        spec['warmup_from'], abs=1e-3)
    assert (cosine.type, cosine.begin, cosine.end, cosine.T_max) == (
        'CosineAnnealingLR', 10, epochs, epochs - 10)
    assert cosine.eta_min == pytest.approx(spec['eta_min'])

    for name in sorted(simclr_names(ds)):
        cfg = cfg_of(name)
        prefix = name[:-len(spec['tail'])]
        generated, a2 = VARIANTS[prefix]
        assert cfg.model.base_loss == (spec['a2_loss'] if a2 else
                                       spec['base_loss']), name
        assert U.same_except(cfg.model, base.model, ('base_loss', ))
        for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                    'data_preprocessor', 'auto_scale_lr'):
            assert cfg[key] == base[key], (name, key)
        assert U.same_except(cfg.train_dataloader.dataset,
                             base.train_dataloader.dataset, ('pipeline', ))
        views = U.views(U.train_pipeline(cfg))
        expert = views[0][1]
        check_expert(expert, spec)
        if prefix == '':
            assert [c for c, _ in views] == [2]
        elif prefix == 'a2-expert3_':
            assert views == [(3, expert)]
        elif a2:
            assert [c for c, _ in views] == [2, 1]  # generated LAST
            check_generated(views[1][1], spec, prefix[3:-1], a2=True)
        else:
            assert [c for c, _ in views] == [1, 1]
            check_generated(views[1][1], spec, prefix[3:-1], a2=False)
        assert U.hook_types(cfg) == (['mmmix.GeneratedViewsHook']
                                     if generated else []), name


@pytest.mark.parametrize('method', sorted(CIFAR_A2))
def test_cifar10_a2_other_methods(method):
    """SimSiam (App. F, Eq. 16) and the MoCo v2 / BYOL extrapolations
    (spec 5.4): the baseline recipe, the A2 model, the generated view
    appended last with a flip (the SimCLR configs' caches)."""
    model_type, baseline_path = CIFAR_A2[method]
    base = parse_config(baseline_path)
    c10 = cfg_of(SIMCLR['cifar10']['tail'])
    for generator in ('wsearch', 'wperturb'):
        cfg = cfg_of(f'a2-{generator}_{method}{EXT_TAIL}')
        assert cfg.model.type == model_type
        assert cfg.model.alpha == 0.5
        assert U.same_except(cfg.model, base.model, ('type', 'alpha',
                                                     'align_anchors'))
        for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                    'data_preprocessor'):
            assert cfg[key] == base[key], key
        views = U.views(U.train_pipeline(cfg))
        assert [c for c, _ in views] == [2, 1]
        assert views[0][1] == U.views(U.train_pipeline(base))[0][1]
        load = views[1][1][0]
        assert load.cache == c10[f'{generator}_cache']
        assert dict(load, expected_num_samples=50000) == load
        check_generated(views[1][1], SIMCLR['cifar10'], generator, a2=True)
        assert U.hook_types(cfg) == U.hook_types(base) + [
            'mmmix.GeneratedViewsHook']
    if method != 'byol':
        return
    # the BYOL baseline: the SimSiam / MoCo v2 CIFAR recipe, BYOL heads
    opt = base.optim_wrapper.optimizer
    assert (opt.lr, opt.weight_decay, opt.momentum) == (0.06, 5e-4, 0.9)
    assert base.train_cfg.max_epochs == 800
    assert base.train_dataloader.batch_size == 512
    assert base.model.base_momentum == 0.004
    assert base.model.neck.out_channels == 256
    simsiam = parse_config(CIFAR_A2['simsiam'][1])
    assert U.train_pipeline(base) == U.train_pipeline(simsiam)


def test_fashion_configs():
    """The SimCLR Fashion baseline shares the other Fashion baselines'
    data, views, optimiser and schedule; A1 / A2 use the Fashion W-perturb
    cache, every A2 appends it exactly as the SimSiam one."""
    simsiam_base = parse_config(osp.join(
        ROOT, 'configs', 'clim',
        'simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py'))
    simclr = cfg_of('simclr' + FASHION_TAIL)
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor', 'custom_hooks'):
        assert strip_scope(simclr[key]) == strip_scope(simsiam_base[key]), key
    assert strip_scope(simclr.train_dataloader.dataset) == strip_scope(
        simsiam_base.train_dataloader.dataset)
    model = simclr.model
    assert (model.type, model.base_loss, model.temperature, model.alpha) == (
        'mmmix.A2SimCLR', 'infonce', 0.5, 0.5)
    expert = simsiam_base.fmnist_view_pipeline
    a2_reference = U.views(U.train_pipeline(
        cfg_of('a2-wperturb_simsiam' + FASHION_TAIL)))
    assert a2_reference[0] == (2, expert)
    for name, kind in FASHION.items():
        cfg = cfg_of(name)
        views = U.views(U.train_pipeline(cfg))
        if kind is None:
            assert views == [(2, expert)]
            continue
        load = views[1][1][0]
        assert (load.type, load.cache, load.num_use) == (
            U.LOAD_VIEW, FASHION_CACHE, 8)
        if kind == 'a2':
            assert views == a2_reference, name
        else:
            assert views[0] == (1, expert)
            assert [dict(t) for t in views[1][1][1:]] == [
                dict(type='RandomResizedCrop', scale=28,
                     crop_ratio_range=(0.9, 1.),
                     aspect_ratio_range=(0.9, 1.1), backend='cv2'),
                dict(type='RandomFlip', prob=0.5)]
        assert 'mmmix.GeneratedViewsHook' in U.hook_types(cfg)
    control = cfg_of(FASHION_EXPERT3)
    a2 = cfg_of('a2-wperturb_simsiam' + FASHION_TAIL)
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor'):
        assert control[key] == a2[key], key
    assert U.views(U.train_pipeline(control)) == [(3, expert)]
    assert U.hook_types(control) == ['mmmix.KNNEvalHook']
    types = {n: cfg_of(n).model.type for n in FASHION}
    assert types['a2-wperturb_mocov2' + FASHION_TAIL] == 'mmmix.A2MoCoV2'
    assert types['a2-wperturb_byol' + FASHION_TAIL] == 'mmmix.A2BYOL'


@pytest.mark.parametrize('name', sorted(GANS))
def test_gan_configs(name):
    """Unconditional, the paper's 8-layer mapping and 512-d latents, at the
    dataset's size; its Frechet distance uses the SimCLR baseline's
    backbone, weights and normalisation; the same training images."""
    res, ds = GANS[name]
    cfg = cfg_of(name)
    gen, disc = cfg.model.generator, cfg.model.discriminator
    assert gen.cond_dim == disc.cond_dim == 0
    assert (gen.resolution, disc.resolution,
            cfg.model.data_preprocessor.resolution) == (res, res, res)
    assert (gen.z_dim, gen.w_dim, gen.mapping_layers) == (512, 512, 8)
    assert cfg.model.r1_gamma == pytest.approx(0.0002 * res**2 / 32
                                               if res == 64 else 0.01)
    simclr = cfg_of(SIMCLR[ds]['tail'])
    metric = cfg.val_evaluator
    backbone = simclr.model.backbone
    assert metric.feature_net.type.split('.')[-1] == backbone.type
    assert metric.feature_net.depth == backbone.depth
    assert metric.checkpoint == (
        f"work_dirs/{SIMCLR[ds]['tail'][:-3]}/"
        f'epoch_{simclr.train_cfg.max_epochs}.pth')
    pre = simclr.data_preprocessor
    assert (metric.mean, metric.std) == (pre.mean, pre.std)
    assert metric.get('to_rgb', False) == pre.to_rgb
    images = cfg.train_dataloader.dataset
    ssl_images = simclr.train_dataloader.dataset
    for key in ('type', 'data_root', 'split', 'data_prefix'):
        assert images.get(key) == ssl_images.get(key), key
    assert dict(type='RandomFlip', prob=0.5) in images.pipeline


# ---------------------------------------------------- on generated data ---
SSL = [c for c in CONFIGS if 'stylegan2' not in osp.basename(c)]


def input_size(path):
    if 'fashionmnist' in path:
        return 28
    for ds, spec in SIMCLR.items():
        if path.endswith(f'_{ds}.py'):
            return spec['size']
    raise AssertionError(path)


@pytest.mark.parametrize('path', SSL, ids=[osp.relpath(c, LV_DIR)
                                           for c in SSL])
def test_train_pipeline_on_generated_data(path, tmp_path, fashion_root):
    """With fabricated 8-view caches of the generated data, the training
    set yields the config's views, the generated one LAST and taken from
    the cache (before its flip / crop), and the caches pass the
    fingerprint checks."""
    cfg = load_config(path)
    U.fabricate(cfg, tmp_path, fashion_root, U.image_size(path))
    dataset_cfg = cfg.train_dataloader.dataset
    with DefaultScope.overwrite_default_scope('mmmix'):
        dataset = DATASETS.build(dataset_cfg)
    found = check_generated_view_sources(dataset)
    loads = [d for d in U.walk(dataset_cfg) if d.get('type') in U.GENERATED]
    assert len(found) == len(loads) <= 1
    counts = [c for c, _ in U.views(U.train_pipeline(cfg))]
    channels = len(cfg.data_preprocessor.mean)
    out = dataset[1]
    assert len(out['inputs']) == sum(counts)
    size = input_size(path)
    assert {tuple(x.shape) for x in out['inputs']} == {(channels, size,
                                                        size)}
    after = U.views(U.train_pipeline(cfg))[-1][1][1:]
    if loads and [t['type'] for t in after] == ['RandomFlip']:
        # A2 on CIFAR / Fashion: the last view is a cached view of the
        # image, maybe flipped (the preprocessor normalises later)
        from mmmix.datasets import ViewCache
        cache = ViewCache.open(loads[0]['cache'])
        view = out['inputs'][-1].numpy()
        view = view[0] if view.shape[0] == 1 else view.transpose(1, 2, 0)
        options = [cache.get(s, 1) for s in range(cache.num_views)]
        assert any(np.array_equal(view, o) or np.array_equal(view, o[:, ::-1])
                   for o in options)

#: one A1 and one A2 config per base model, the 3-view control, the GANs
RUNS = {
    'a1-wsearch_simclr_resnet18-cifar_1xb128-coslr-800e_cifar10.py':
    {'loss', 'loss_cl', 'loss_align'},
    'a1-wperturb_simclr' + FASHION_TAIL: {'loss', 'loss_cl', 'loss_align'},
    'a2-wperturb_simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py':
    {'loss', 'loss_cl', 'loss_align'},
    'a2-wsearch_simclr_resnet18-cifar_4xb128-coslr-1000e_tinyimagenet64.py':
    {'loss', 'loss_cl', 'loss_align'},
    'a2-wperturb_simsiam' + FASHION_TAIL: {'loss', 'loss_base', 'loss_align'},
    'a2-wperturb_mocov2' + FASHION_TAIL: {'loss', 'loss_base', 'loss_align'},
    'a2-wperturb_byol' + FASHION_TAIL: {'loss', 'loss_base', 'loss_align'},
    'a2-wsearch_simsiam' + EXT_TAIL: {'loss', 'loss_base',
                                     'loss_align'},
    FASHION_GAN: {'loss_d', 'loss_g'},
    'stylegan2-c512_1xb32-25000kimg_tinyimagenet64.py': {'loss_d',
                                                         'loss_g'},
}


@pytest.mark.parametrize('name', sorted(RUNS))
def test_trains_on_generated_data(name, tmp_path, fashion_root,
                                  monkeypatch):
    """A few iterations with mmengine's runner (GeneratedViewsHook checks
    the fabricated caches against the data first), narrowed networks;
    finite losses, the alignment term non-zero where a view is generated
    (and a finite Frechet distance for the GANs)."""
    U.cheap_config_text(monkeypatch)
    cfg = load_config(osp.join(LV_DIR, name))
    U.fabricate(cfg, tmp_path, fashion_root, U.image_size(name))
    U.shrink_model(cfg)
    runner = U.run(cfg, tmp_path)
    losses = U.logged_losses(runner)
    assert set(losses) == RUNS[name]
    assert all(np.isfinite(v) for v in losses.values()), losses
    if name.startswith('a2-'):
        assert losses['loss_align'] != 0
    if name.startswith('a1-'):  # two views: no alignment term
        assert losses['loss_align'] == 0
    if 'stylegan2' in name:
        fd = runner.message_hub.get_scalar('val/fd').current()
        assert np.isfinite(fd) and fd >= 0


def test_cfg_options_reach_the_cache():
    """The README's way to point a config at another cache."""
    cfg = load_config(osp.join(
        LV_DIR, 'a2-wsearch_' + SIMCLR['cifar10']['tail']))
    cfg.merge_from_dict(
        {'train_dataloader.dataset.pipeline.0.transforms.1.0.cache':
         'my/cache'}, allow_list_keys=True)
    load = U.views(U.train_pipeline(cfg))[1][1][0]
    assert (load.type, load.cache, load.num_use) == (U.LOAD_VIEW,
                                                     'my/cache', 8)
