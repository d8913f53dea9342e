"""The LMA configs (``configs/lma``; spec lma.md 2.5-2.9, 3, A1-A3, A6-A12,
A17, A18, A24, A28, U9, U10).

No CIFAR / STL-10 / ImageNet, no IC-GAN and no GPU here. These tests check
that every config parses; that the MoCo v2 and SimSiam configs carry the
paper's Table 8 values (backbone, input scale, base lr with lr = base x
batch / 256, weight decay) and the spec's defaults where the paper is
silent (batch, epochs, MoCo's CIFAR K / tau / m), the handcrafted
augmentation of Appendix A.2 (no blur on CIFAR, MoCo v2's sigma range),
alpha (0.3, 0.1 on ImageNet) with LocalManifoldAugment first in each view
of the LMA twin and nothing else changed; that each ablation changes
exactly what its name announces; that the IC-GAN configs agree with the
generator, bank and neighbour table the LMA configs read, and with the
encoder that made the bank; and, on generated data of each dataset's raw
format with tiny fabricated artefacts (bank with the data's fingerprint,
neighbour table, raw images, narrowed generator checkpoint), that every
training pipeline yields its views and that one config per base model
(and the IC-GAN configs) trains a few iterations with mmengine's runner
with finite losses. The generic ``tests/test_configs.py`` skips this
folder: its configs need artefacts it does not make.
"""
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.registry import DefaultScope

from mmmix.datasets.fingerprint import raw_image
from mmmix.datasets.transforms.generated_views import (
    check_generated_view_sources,
)
from mmmix.registry import DATASETS, TRANSFORMS
from mmmix.utils import register_all_modules
from tests import genviews_config_utils as U
from tests.conftest import ROOT, load_config, parse_config

register_all_modules(init_default_scope=False)

LMA_DIR = osp.join(ROOT, 'configs', 'lma')
#: the pretraining configs (the evaluation configs of benchmarks/ are
#: tests/test_configs_genviews_eval.py's)
CONFIGS = sorted(f for f in glob.glob(osp.join(LMA_DIR, '**', '*.py'),
                                      recursive=True)
                 if '_base_' not in f and not f.startswith(
                     osp.join(LMA_DIR, 'benchmarks', '')))
IDS = [osp.relpath(c, LMA_DIR) for c in CONFIGS]

PAPER_NAME = re.compile(
    r'^(?P<lma>lma_)?(?P<method>simsiam|mocov2)(?P<wd>-wd5e-4)?_'
    r'(?P<backbone>resnet18-cifar|resnet18|resnet50)_(?P<gpus>\d+)xb'
    r'(?P<per_gpu>\d+)-coslr-(?P<epochs>\d+)e_'
    r'(?P<ds>cifar10|cifar100|stl10|in100|in1k)\.py$')

#: per dataset: spec 3.3 (Table 8 input scale / backbone / weight decay),
#: 3.1 (alpha, k), 3.2 (blur off on CIFAR), 3.4 (training-set size), the
#: [REC] epochs and the generator of 2.6 (32 px CIFAR, 128 px otherwise)
DATASET_SPEC = {
    'cifar10': dict(size=32, backbone=('ResNet_CIFAR', 18), wd=0.005,
                    alpha=0.3, epochs=800, n=50000, gen_res=32, blur=False,
                    files=False, k=20),
    'cifar100': dict(size=32, backbone=('ResNet_CIFAR', 18), wd=0.005,
                     alpha=0.3, epochs=800, n=50000, gen_res=32,
                     blur=False, files=False, k=5),
    'stl10': dict(size=128, backbone=('ResNet', 18), wd=0.005, alpha=0.3,
                  epochs=800, n=105000, gen_res=128, blur=True, files=True,
                  k=20),
    'in100': dict(size=96, backbone=('ResNet', 50), wd=0.001, alpha=0.3,
                  epochs=200, n=126689, gen_res=128, blur=True, files=True,
                  k=None),
    'in1k': dict(size=224, backbone=('ResNet', 50), wd=0.001, alpha=0.1,
                 epochs=100, n=1281167, gen_res=128, blur=True, files=True,
                 k=50),
}
#: Table 8 base learning rates and the spec's [REC] total batch sizes
BASE_LR = {
    ('simsiam', 'cifar10'): 0.03, ('simsiam', 'cifar100'): 0.03,
    ('simsiam', 'stl10'): 0.05, ('simsiam', 'in100'): 0.05,
    ('simsiam', 'in1k'): 0.05,
    ('mocov2', 'cifar10'): 0.03, ('mocov2', 'cifar100'): 0.03,
    ('mocov2', 'stl10'): 0.03, ('mocov2', 'in100'): 0.03,
    ('mocov2', 'in1k'): 0.03,
}
BATCH = {'cifar10': 512, 'cifar100': 512, 'stl10': 512, 'in100': 256,
         ('simsiam', 'in1k'): 512, ('mocov2', 'in1k'): 256}
FEATURE_DIM = {18: 512, 50: 2048}
PAPER = sorted(BASE_LR)


def paper_name(method, ds, prefix='', wd=''):
    """The file name of a paper config (``PAPER_NAME``)."""
    found = [osp.basename(c) for c in CONFIGS
             if (m := PAPER_NAME.match(osp.basename(c)))
             and (m['method'], m['ds'], m['lma'] or '', m['wd'] or '') == (
                 method, ds, prefix, wd)]
    assert len(found) == 1, (method, ds, prefix, wd, found)
    return found[0]


def cfg_of(name):
    return parse_config(osp.join(LMA_DIR, name))


def base_vars(ds):
    """The dataset base of the LMA configs (artefact paths, hca, lma)."""
    return parse_config(osp.join(LMA_DIR, '_base_', f'{ds}_lma.py'))


def strip_prefix(kind):
    return kind.split('.', 1)[-1]


# ------------------------------------------------------------ the files ---
ABLATIONS = {
    'lma-alpha0.1': dict(kind='lma', prob=0.1),
    'lma-alpha0.5': dict(kind='lma', prob=0.5),
    'lma-alpha1.0': dict(kind='lma', prob=1.0),
    'lma-zpool1': dict(kind='lma', prob=0.3, pool=1),
    'lma-zpool50': dict(kind='lma', prob=0.3, pool=50),
    'lma-zpool500': dict(kind='lma', prob=0.3, pool=500),
    'lma-zpool5000': dict(kind='lma', prob=0.3, pool=5000),
    'lma-knn': dict(kind='knn', prob=0.3),
    'lma-traversal': dict(kind='traversal', prob=0.3),
    'lma-mix': dict(kind='mix', prob=0.3),
    'lma-only': dict(kind='only', prob=1.0),
}
ABL_TAIL = '_simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py'
C10_SIMSIAM = 'simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py'
#: the IC-GAN configs (spec 2.5, Table 7 and StyleGAN2-ADA's 'cifar' /
#: 'auto' settings): the LMA bases that read each, the f_phi config
ICGAN = {
    'cifar10': dict(
        name='icgan-stylegan2-c512_1xb64-100000kimg_cifar10.py', res=32,
        batch=64, kimg=100000, channel_base=32768, mbstd=32, r1=0.01,
        ema=500., users=('cifar10', ), fphi=C10_SIMSIAM),
    'cifar100': dict(
        name='icgan-stylegan2-c512_1xb64-100000kimg_cifar100.py', res=32,
        batch=64, kimg=100000, channel_base=32768, mbstd=32, r1=0.01,
        ema=500., users=('cifar100', ),
        fphi='simsiam_resnet18-cifar_1xb512-coslr-800e_cifar100.py'),
    'stl10': dict(
        name='icgan-stylegan2-c512_1xb32-25000kimg_stl10.py', res=128,
        batch=32, kimg=25000, channel_base=16384, mbstd=4, r1=0.1024,
        ema=10., users=('stl10', ),
        fphi='simsiam_resnet18_1xb512-coslr-800e_stl10.py'),
    'in1k': dict(
        name='icgan-stylegan2-c512_1xb32-25000kimg_in1k.py', res=128,
        batch=32, kimg=25000, channel_base=16384, mbstd=4, r1=0.1024,
        ema=10., users=('in1k', 'in100'),
        fphi='simsiam_resnet50_8xb64-coslr-100e_in1k.py'),
}
FASHION = {
    'lma_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py': 'simsiam',
    'lma_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py': 'mocov2',
    'lma_byol_resnet18-w16_1xb256-3e_fashionmnist-20k.py': 'byol',
}
FASHION_ICGAN = 'icgan-stylegan2-c32_1xb32-2400it_fashionmnist-20k.py'


def test_the_config_set_is_complete():
    """Every (method, dataset) pair with its LMA twin, the CIFAR-10
    weight-decay twins, every ablation, the IC-GANs, the Fashion set."""
    expected = set()
    for method, ds in PAPER:
        expected |= {paper_name(method, ds), paper_name(method, ds, 'lma_')}
    for method in ('simsiam', 'mocov2'):
        expected |= {paper_name(method, 'cifar10', wd='-wd5e-4'),
                     paper_name(method, 'cifar10', 'lma_', '-wd5e-4')}
    expected |= {f'ablations/{a}{ABL_TAIL}' for a in ABLATIONS}
    expected |= {s['name'] for s in ICGAN.values()}
    expected |= set(FASHION) | {FASHION_ICGAN}
    assert set(IDS) == expected


@pytest.mark.parametrize('path', CONFIGS, ids=IDS)
def test_config_loads(path):
    cfg = parse_config(path)  # Config.fromfile, once per session
    assert cfg.default_scope == 'mmmix'
    assert 'mmmix' in cfg.custom_imports['imports']
    assert cfg.model.type


# --------------------------------------------------- the paper's recipe ---
def check_hca(hca, size, blur, rgb):
    """Appendix A.2 in its order (spec 3.2), A3's blur sigma range."""
    kinds = [t['type'] for t in hca]
    assert kinds == (['RandomResizedCrop', 'RandomApply', 'RandomGrayscale']
                     + (['GaussianBlur'] if blur else []) + ['RandomFlip'])
    crop = hca[0]
    assert crop['scale'] == size
    assert tuple(crop['crop_ratio_range']) == (0.2, 1.0)
    assert tuple(crop['aspect_ratio_range']) == pytest.approx((3 / 4, 4 / 3))
    jitter = hca[1]
    assert jitter['prob'] == 0.8
    assert [dict(t) for t in jitter['transforms']] == [dict(
        type='ColorJitter', brightness=0.4, contrast=0.4, saturation=0.4,
        hue=0.1)]
    grey = hca[2]
    assert (grey['prob'], grey['keep_channels']) == (0.2, True)
    weights = (0.2989, 0.587, 0.114)  # R, G, B luminance weights
    assert tuple(grey['channel_weights']) == (weights if rgb else
                                              weights[::-1])
    if blur:
        assert tuple(hca[3]['magnitude_range']) == (0.1, 2.0)  # sigma, A3
        assert (hca[3]['magnitude_std'], hca[3]['prob']) == ('inf', 0.5)
    assert hca[-1]['prob'] == 0.5


def check_lma_transform(t, ds, prob):
    spec = DATASET_SPEC[ds]
    base = base_vars(ds)
    assert t['type'] == U.LMA
    assert t['prob'] == prob
    assert t['generator'] == base.lma_generator
    gen = t['generator']
    assert gen['resolution'] == spec['gen_res']
    assert gen['img_channels'] == 3
    # conditioned on f_phi's backbone feature
    assert gen['cond_dim'] == FEATURE_DIM[spec['backbone'][1]]
    assert (t['checkpoint'], t['bank']) == (base.lma_generator_ckpt,
                                            base.lma_bank)
    assert t['expected_num_samples'] == spec['n']
    assert (t['truncation'], t['noise_mode']) == (1.0, 'random')  # A9
    # CIFAR arrays are RGB like the generator's output; file datasets are
    # BGR and so is the generator trained on them: never flip
    assert t['channel_order'] == 'rgb'
    assert t['device'] == 'cpu'


@pytest.mark.parametrize('method,ds', PAPER, ids=[f'{m}-{d}'
                                                  for m, d in PAPER])
def test_paper_recipe(method, ds):
    """Table 8 and the spec's defaults in the alpha = 0 baseline; its LMA
    twin differs only by LMA first in each view and the check hook."""
    spec = DATASET_SPEC[ds]
    name = paper_name(method, ds)
    parts = PAPER_NAME.match(name)
    cfg, twin = cfg_of(name), cfg_of(paper_name(method, ds, 'lma_'))
    gpus, per_gpu = int(parts['gpus']), int(parts['per_gpu'])
    total = gpus * per_gpu
    assert total == BATCH.get((method, ds), BATCH.get(ds))
    assert cfg.train_dataloader.batch_size == per_gpu
    assert cfg.auto_scale_lr.base_batch_size == total
    assert cfg.train_dataloader.drop_last

    # model
    kind, depth = spec['backbone']
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.depth) == (kind, depth)
    assert parts['backbone'] == {('ResNet_CIFAR', 18): 'resnet18-cifar',
                                 ('ResNet', 18): 'resnet18',
                                 ('ResNet', 50): 'resnet50'}[(kind, depth)]
    feat = FEATURE_DIM[depth]
    if method == 'simsiam':
        assert cfg.model.type == 'SimSiam'
        assert cfg.model.neck.in_channels == feat
        assert cfg.model.neck.num_layers == (2 if kind == 'ResNet_CIFAR'
                                             else 3)  # [EXT] CIFAR variant
        assert not cfg.model.neck.with_last_bn_affine
        assert cfg.model.head.predictor.hid_channels == 512
    else:
        assert cfg.model.type == 'MoCo'
        assert cfg.model.neck.type == 'MoCoV2Neck'
        assert cfg.model.neck.in_channels == feat
        assert cfg.model.feat_dim == cfg.model.neck.out_channels == 128
        assert cfg.model.head.temperature == 0.2
        cifar = ds.startswith('cifar')  # spec 3.3 [REC] / 2.9 [EXT]
        assert cfg.model.queue_len == (4096 if cifar else 65536)
        assert cfg.model.momentum == (0.01 if cifar else 0.001)
        assert cfg.model.queue_len % total == 0

    # optimiser: SGD momentum 0.9 (A4), lr = base x batch / 256, cosine
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum) == ('SGD', 0.9)
    assert opt.lr == pytest.approx(BASE_LR[(method, ds)] * total / 256)
    assert opt.weight_decay == spec['wd']  # Table 8 as printed (A2)
    epochs = int(parts['epochs'])
    assert epochs == spec['epochs']
    assert cfg.train_cfg == dict(type='EpochBasedTrainLoop',
                                 max_epochs=epochs)
    assert cfg.param_scheduler == [dict(
        type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0,
        end=epochs)]
    if method == 'simsiam':  # the predictor's fixed lr [EXT]
        assert cfg.optim_wrapper.paramwise_cfg.custom_keys == dict(
            predictor=dict(fix_lr=True))
        hook = [h for h in cfg.custom_hooks if h.type == 'SimSiamHook']
        assert hook[0].lr == opt.lr and hook[0].fix_pred_lr

    # data: the HCA-only baseline
    rgb = not spec['files']
    assert cfg.data_preprocessor.to_rgb == (not rgb)
    pipeline = U.train_pipeline(cfg)
    assert (pipeline[0]['type'] == 'LoadImageFromFile') == spec['files']
    assert [count for count, _ in U.views(pipeline)] == [2]
    check_hca(U.views(pipeline)[0][1], spec['size'], spec['blur'], rgb)
    assert not [d for d in U.walk(cfg.train_dataloader)
                if d.get('type') in U.GENERATED]
    assert 'mmmix.GeneratedViewsHook' not in U.hook_types(cfg)

    # the LMA twin: the same except LMA first in each view, and the hook
    tw_pipeline = U.train_pipeline(twin)
    (count, view), = U.views(tw_pipeline)
    assert count == 2
    check_lma_transform(view[0], ds, spec['alpha'])
    check_hca(view[1:], spec['size'], spec['blur'], rgb)
    assert [d for d in U.walk(twin.train_dataloader)
            if d.get('type') in U.GENERATED] == [view[0]]
    assert U.hook_types(twin) == U.hook_types(cfg) + [
        'mmmix.GeneratedViewsHook']
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor', 'auto_scale_lr'):
        assert twin[key] == cfg[key], key
    assert U.same_except(twin.train_dataloader, cfg.train_dataloader,
                         ('dataset', ))
    assert U.same_except(twin.train_dataloader.dataset,
                         cfg.train_dataloader.dataset, ('pipeline', ))


@pytest.mark.parametrize('method', ['simsiam', 'mocov2'])
@pytest.mark.parametrize('prefix', ['', 'lma_'])
def test_original_weight_decay_twins(method, prefix):
    """Spec A2: the -wd5e-4 configs change the weight decay only."""
    paper = cfg_of(paper_name(method, 'cifar10', prefix))
    twin = cfg_of(paper_name(method, 'cifar10', prefix, '-wd5e-4'))
    assert paper.optim_wrapper.optimizer.weight_decay == 0.005
    assert twin.optim_wrapper.optimizer.weight_decay == 5e-4
    assert U.same_except(twin.optim_wrapper.optimizer,
                         paper.optim_wrapper.optimizer, ('weight_decay', ))
    for key in ('model', 'train_dataloader', 'param_scheduler',
                'custom_hooks', 'train_cfg'):
        assert twin.get(key) == paper.get(key), key


@pytest.mark.parametrize('name', sorted(ABLATIONS))
def test_ablations(name):
    """Each CIFAR-10 SimSiam ablation (Tables 1, 4, 5, Fig. 5) is the
    alpha = 0 baseline with the announced data change and nothing else."""
    spec = ABLATIONS[name]
    cfg = cfg_of(f'ablations/{name}{ABL_TAIL}')
    base = cfg_of(C10_SIMSIAM)
    c10 = base_vars('cifar10')
    for key in ('model', 'optim_wrapper', 'param_scheduler', 'train_cfg',
                'data_preprocessor'):
        assert cfg[key] == base[key], key
    assert U.hook_types(cfg) == ['SimSiamHook', 'mmmix.GeneratedViewsHook']
    pipeline = U.train_pipeline(cfg)
    generated = [d for d in U.walk(cfg.train_dataloader)
                 if d.get('type') in U.GENERATED]
    assert len(generated) == 1
    source = generated[0]
    assert source['prob'] == spec['prob']
    if spec['kind'] == 'knn':  # Table 4: a kNN neighbour, same f_phi
        assert source['type'] == U.KNN_REPLACE
        assert (source['knn_file'], source['images_file']) == (
            c10.lma_knn, c10.lma_images)
        assert source['knn_file'].endswith('knn20.npy')
        assert source['expected_num_samples'] == 50000
    elif spec['kind'] == 'traversal':  # Table 4: W+ traversal, sigma 0.2
        assert source['type'] == U.TRAVERSAL
        assert (source['sigma'], source['mode']) == (0.2, 'gauss')
        gan = parse_config(osp.join(
            osp.dirname(LMA_DIR), 'learned_views',
            'stylegan2-c512_1xb64-100000kimg_cifar10.py'))
        assert source['generator'] == gan.model.generator
        assert source['expected_num_samples'] == 50000
    else:
        reference = dict(c10.lma, prob=spec['prob'])
        if 'pool' in spec:  # Table 5, A17: one global seeded pool
            reference.update(z_pool_size=spec['pool'], z_pool_seed=0,
                             noise_mode='const')
        assert source == reference
    if spec['kind'] == 'mix':  # A18: before MultiView, one shared image
        assert pipeline[0] == source
        assert U.views(pipeline) == [(2, c10.hca)]
    elif spec['kind'] == 'only':  # A12: alpha = 1, no HCA at 32 px
        assert U.views(pipeline) == [(2, [source])]
    else:  # first in each view, then the base's HCA
        (count, view), = U.views(pipeline)
        assert count == 2 and view[0] == source
        assert view[1:] == [dict(type='Compose', transforms=c10.hca)]
    assert pipeline[-1] == dict(type='PackInputs')


@pytest.mark.parametrize('ds', sorted(ICGAN))
def test_icgan_configs(ds):
    """The IC-GAN recipe (spec 2.5) and its agreement with the LMA configs
    that sample it and the encoder that made the bank."""
    spec = ICGAN[ds]
    cfg = cfg_of(spec['name'])
    gen, disc = cfg.model.generator, cfg.model.discriminator
    fphi = cfg_of(spec['fphi'])
    feat = FEATURE_DIM[fphi.model.backbone.depth]
    assert (gen.resolution, disc.resolution) == (spec['res'], spec['res'])
    assert gen.cond_dim == disc.cond_dim == feat
    assert (gen.z_dim, gen.w_dim, gen.mapping_layers) == (512, 512, 2)
    assert (gen.channel_base, gen.channel_max) == (spec['channel_base'], 512)
    assert (disc.channel_base, disc.channel_max) == (spec['channel_base'],
                                                     512)
    assert disc.mbstd_group_size == spec['mbstd']
    model = cfg.model
    assert (model.r1_gamma, model.r1_interval) == (spec['r1'], 16)
    assert (model.ema_kimg, model.ema_rampup) == (spec['ema'], 0.05)
    assert model.data_preprocessor.resolution == spec['res']
    for key in ('generator', 'discriminator'):
        opt = cfg.optim_wrapper[key].optimizer
        assert (opt.type, opt.lr, tuple(opt.betas)) == ('Adam', 0.0025,
                                                        (0., 0.99))
    assert cfg.train_dataloader.batch_size == spec['batch']
    assert cfg.train_cfg.max_iters == spec['kimg'] * 1000 // spec['batch']
    assert cfg.train_cfg.val_interval * spec['batch'] == 200 * 1000
    checkpoint = cfg.default_hooks.checkpoint
    assert (checkpoint.save_best, checkpoint.rule) == ('fd', 'less')

    train = cfg.train_dataloader.dataset
    assert (train.type, train.mode, train.flip_prob) == (U.KNN_INSTANCE,
                                                        'train', 0.5)
    val = cfg.val_dataloader.dataset
    assert (val.type, val.mode) == (U.KNN_INSTANCE, 'val')
    assert val.bank == train.bank
    k = int(re.search(r'knn(\d+)\.npy$', train.knn).group(1))
    for user in spec['users']:  # the LMA configs sampling this generator
        lma = base_vars(user)
        assert lma.lma_generator == dict(gen, type='mmmix.StyleGAN2Generator')
        assert lma.lma_generator_ckpt.endswith('/icgan_best.pth')
        assert osp.dirname(lma.lma_generator_ckpt) == osp.dirname(train.bank)
        if user == ds:
            assert lma.lma_bank == train.bank and lma.lma_knn == train.knn
            assert k == DATASET_SPEC[ds]['k']
    # the images and the encoder of the bank: f_phi's training set in
    # f_phi's order (the fingerprint guards it at run time)
    images = train.dataset
    fphi_set = fphi.train_dataloader.dataset
    for key in ('type', 'data_root', 'split', 'data_prefix', 'ann_file',
                'with_label'):
        assert images.get(key) == fphi_set.get(key), key
    assert images.pipeline[-2:] == [dict(type='RandomFlip', prob=0.5),
                                    dict(type='PackInputs')]  # mirror, A7
    if DATASET_SPEC[ds]['files']:  # upsampled / centre-cropped to 128 px
        resize = images.pipeline[1]
        assert resize.get('scale') in ((128, 128), 128)
    metric = cfg.val_evaluator
    assert strip_prefix(metric.feature_net.type) == fphi.model.backbone.type
    assert metric.feature_net.depth == fphi.model.backbone.depth
    assert metric.checkpoint == (
        f"work_dirs/{spec['fphi'][:-3]}/epoch_{fphi.train_cfg.max_epochs}"
        '.pth')
    assert (metric.mean, metric.std) == (fphi.data_preprocessor.mean,
                                         fphi.data_preprocessor.std)
    assert metric.get('to_rgb', False) == fphi.data_preprocessor.to_rgb


def test_fashion_lma_twins():
    """MoCo v2 / BYOL + LMA on Fashion-MNIST: their CLIM Fashion baselines
    with the SimSiam + LMA Fashion pipeline, nothing else."""
    reference = load_config(osp.join(
        LMA_DIR, 'lma_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py'))
    ref_pipeline = U.train_pipeline(reference)
    for name, method in FASHION.items():
        cfg = cfg_of(name)
        base = parse_config(osp.join(
            ROOT, 'configs', 'clim',
            f'{method}_resnet18-w16_1xb256-3e_fashionmnist-20k.py'))
        assert U.train_pipeline(cfg) == ref_pipeline, name
        for view in U.first_of_each_view(ref_pipeline):
            assert view['type'] == U.LMA and view['prob'] == 0.3
        for key in ('model', 'optim_wrapper', 'param_scheduler',
                    'train_cfg', 'data_preprocessor'):
            assert cfg[key] == base[key], (name, key)
        assert U.hook_types(cfg) == U.hook_types(base) + [
            'mmmix.GeneratedViewsHook']
    icgan = cfg_of(FASHION_ICGAN)
    gen = U.first_of_each_view(ref_pipeline)[0]['generator']
    assert gen == dict(icgan.model.generator, type=gen['type'])


def test_cfg_options_reach_the_lma_transform():
    """The README's way to point a config at other artefacts: list-index
    keys of --cfg-options (a child config's variable would not reach the
    pipeline)."""
    name = paper_name('simsiam', 'stl10', 'lma_')
    cfg = load_config(osp.join(LMA_DIR, name))
    key = 'train_dataloader.dataset.pipeline.1.transforms.0.0.'
    cfg.merge_from_dict({key + 'checkpoint': 'my/icgan.pth',
                         key + 'bank': 'my/bank'}, allow_list_keys=True)
    lma = U.first_of_each_view(U.train_pipeline(cfg))[0]
    assert (lma.checkpoint, lma.bank, lma.prob) == ('my/icgan.pth',
                                                    'my/bank', 0.3)


# ---------------------------------------------------- on generated data ---
SSL = [c for c in CONFIGS if 'icgan' not in osp.basename(c)]


def input_size(path):
    """The network input size of a pretraining config, from its name."""
    if 'fashionmnist' in path:
        return 28
    return DATASET_SPEC[re.search(r'_([a-z0-9]+)\.py$', path)[1]]['size']


@pytest.mark.parametrize('path', SSL, ids=[osp.relpath(c, LMA_DIR)
                                           for c in SSL])
def test_train_pipeline_on_generated_data(path, tmp_path, fashion_root):
    """The training set with fabricated artefacts yields two views of the
    input size; the generated-view sources pass the fingerprint checks; a
    forced LMA draw gives an image of the generator's size and the
    dataset's layout."""
    cfg = load_config(path)
    U.fabricate(cfg, tmp_path, fashion_root, U.image_size(path))
    dataset_cfg = cfg.train_dataloader.dataset
    with DefaultScope.overwrite_default_scope('mmmix'):
        dataset = DATASETS.build(dataset_cfg)
    found = check_generated_view_sources(dataset)
    expect = [d for d in U.walk(dataset_cfg) if d.get('type') in U.GENERATED]
    assert len(found) == len(expect)
    channels = len(cfg.data_preprocessor.mean)
    torch.manual_seed(0)
    out = dataset[0]
    assert len(out['inputs']) == 2
    shapes = {tuple(x.shape) for x in out['inputs']}
    assert len(shapes) == 1
    assert shapes.pop() == (channels, ) + (input_size(path), ) * 2
    for d in expect:
        if d['type'] != U.LMA:
            continue
        with DefaultScope.overwrite_default_scope('mmmix'):
            lma = TRANSFORMS.build(dict(d, prob=1.0, seed=0))
        raw = raw_image(dataset, 0)  # as the first transform sees it
        out = lma(dict(img=raw.copy(), sample_idx=0))
        res = d.get('center_crop') or d['generator']['resolution']
        assert out['lma_applied']
        assert out['img'].dtype == np.uint8
        assert out['img'].shape == (res, res) + raw.shape[2:]


#: one LMA config per base model (SimSiam, MoCo v2, BYOL on Fashion-MNIST;
#: SimSiam on CIFAR-like arrays, MoCo v2 on image files) and the IC-GANs
RUNS = {
    'lma_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py': {'loss'},
    'lma_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py': {'loss'},
    'lma_byol_resnet18-w16_1xb256-3e_fashionmnist-20k.py': {'loss'},
    'lma_simsiam_resnet18-cifar_1xb512-coslr-800e_cifar10.py': {'loss'},
    'lma_mocov2_resnet50_8xb32-coslr-200e_in100.py': {'loss'},
    FASHION_ICGAN: {'loss_d', 'loss_g'},
    ICGAN['cifar10']['name']: {'loss_d', 'loss_g'},
    ICGAN['stl10']['name']: {'loss_d', 'loss_g'},
}


@pytest.mark.parametrize('name', sorted(RUNS))
def test_trains_on_generated_data(name, tmp_path, fashion_root,
                                  monkeypatch):
    """A few iterations with mmengine's runner (GeneratedViewsHook checks
    the fabricated artefacts against the data first), narrowed networks,
    every LMA draw forced (prob 1) so that generated views reach the
    model; finite losses (and a finite Frechet distance for the GANs)."""
    U.cheap_config_text(monkeypatch)
    cfg = load_config(osp.join(LMA_DIR, name))
    U.fabricate(cfg, tmp_path, fashion_root, U.image_size(name))
    for d in U.walk(cfg._cfg_dict):
        if d.get('type') == U.LMA:
            d['prob'] = 1.0
    U.shrink_model(cfg)
    runner = U.run(cfg, tmp_path)
    losses = U.logged_losses(runner)
    assert set(losses) == RUNS[name]
    assert all(np.isfinite(v) for v in losses.values()), losses
    if 'icgan' in name:
        fd = runner.message_hub.get_scalar('val/fd').current()
        assert np.isfinite(fd) and fd >= 0
