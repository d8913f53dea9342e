"""The ImageNet InterCLR configs (``configs/interclr``; spec interclr.md
§3.6, §4, §5.5, A3, A5, A6, A13, A17, U10).

No ImageNet and no 8 GPUs here: these tests check that every pretraining
config (MoCo v2 / NPIDv2 / BYOL + InterCLR, the NPIDv2 baseline and the
NPIDv2-InterCLR ablations) parses and carries the spec's values (the final
recipe, and the ablation value each file name announces), that the full
set of ablation files exists, that the memory has one row per ImageNet
training image and the clustering hook a deterministic extraction loader
over the training images in training order, and that each config's model,
with a tiny backbone and a small memory swapped in, builds and gives the
right, finite losses on random 32 px images; the optimizers, schedules and
hooks build. The semi-supervised fine-tuning configs are checked for the
protocol's schedule, learning rates and subset. The Fashion-MNIST config is
tested in ``tests/test_engine/test_hooks/test_interclr_hook.py`` and the
multi-layer linear probes in ``tests/test_configs_interclr_eval.py``.
"""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmmix.engine import build_model_from_cfg
from mmmix.registry import (
    DATASETS,
    HOOKS,
    MODELS,
    PARAM_SCHEDULERS,
    TRANSFORMS,
)
from mmmix.utils import register_all_modules
from tests.conftest import (
    ROOT,
    check_subset_annotation_read,
    load_config,
    mmpretrain_cfg,
    strip_scope,
)

register_all_modules(init_default_scope=False)

INTERCLR_DIR = osp.join(ROOT, 'configs', 'interclr')
MOCO_BASE = 'mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py'
BYOL_BASE = 'byol/byol_resnet50_16xb256-coslr-200e_in1k.py'
NUM_IMAGES = 1281167  # ImageNet-1k train
TAIL = '_resnet50_8xb32-coslr-{}e_in1k.py'
MOCO = 'interclr-mocov2' + TAIL.format(200)
NPID = 'npidv2' + TAIL.format(200)
NPID_INTERCLR = 'interclr-npidv2' + TAIL.format(200)
BYOL = 'interclr-byol_resnet50_8xb32-accum16-coslr-200e_in1k.py'
SEMI = {
    '1': 'benchmarks/resnet50_8xb32-semi-1pct-20e_in1k.py',
    '10': 'benchmarks/resnet50_8xb32-semi-10pct-20e_in1k.py',
}
#: ``ablations/interclr-npidv2-{variant}_resnet50_8xb32-coslr-{e}e_in1k.py``
ABLATION_NAME = re.compile(
    r'^ablations/interclr-npidv2-(?:'
    r'labels-(?P<labels>online|offline)'
    r'|neg-(?P<neg>random|hard|semihard|semieasy)'
    r'|intra-m(?P<intra_m>-?\d\.\d)'
    r'|inter-m(?P<inter_m>-?\d\.\d)'
    r'|lambda(?P<lam>\d\.\d+)'
    r'|negs(?P<negs>\d+)'
    r')_resnet50_8xb32-coslr-(?P<epochs>\d+)e_in1k\.py$')

#: the spec's values of the final models (§3.6, §4.1, §4.2)
_INTERCLR = dict(k=10000, K=16384, strategy='semihard', pool_ratio=0.1,
                 intra_m=0., inter_m=-0.5, lam=0.75, labels='online',
                 epochs=200, feat_dim=128, hook='mmmix.InterCLRHook',
                 feat_source='online')
FINAL = {
    MOCO: dict(_INTERCLR, type='mmmix.InterCLRMoCo', temperature=0.2,
               momentum=1.0),
    NPID_INTERCLR: dict(_INTERCLR, type='mmmix.InterCLRNPID',
                        temperature=0.1, momentum=0.5),
    NPID: dict(type='mmmix.NPID', temperature=0.1, momentum=0.5, K=16384,
               intra_m=0., k=None, epochs=200, feat_dim=128,
               hook='mmmix.MemoryBankHook'),
    BYOL: dict(type='mmmix.InterCLRBYOL', k=10000, lam=0.75,
               labels='online', momentum=1.0, epochs=200, feat_dim=256,
               hook='mmmix.InterCLRHook', feat_source='target'),
}


def _ablation_names():
    """Every NPIDv2-InterCLR ablation config of spec §4.3 / A17."""
    t100, t200 = TAIL.format(100), TAIL.format(200)
    pre = 'ablations/interclr-npidv2-'
    names = {f'{pre}labels-{m}{t100}' for m in ('online', 'offline')}
    names |= {f'{pre}neg-{s}{t100}'
              for s in ('random', 'hard', 'semihard', 'semieasy')}
    names |= {f'{pre}intra-m{m}{t100}'
              for m in (-0.5, -0.3, -0.1, 0.1, 0.3, 0.5)}
    names |= {f'{pre}inter-m{m}{t100}'
              for m in (-0.7, -0.5, -0.3, -0.1, 0.1, 0.3, 0.5)}
    names |= {f'{pre}lambda{lam}{t200}'
              for lam in (0.0, 0.25, 0.5, 0.75, 1.0)}
    names |= {f'{pre}negs{k}{t100}' for k in (4096, 16384)}
    return names


ABLATIONS = sorted(_ablation_names())
PRETRAIN = sorted(FINAL) + ABLATIONS


def expected(name):
    """The spec's values for a pretraining config, from its file name."""
    if name in FINAL:
        return dict(FINAL[name])
    match = ABLATION_NAME.match(name)
    assert match, f'{name} does not follow the naming scheme'
    g = match.groupdict()
    # the prototype at K = 4,096, 100 epochs, zero margins (§4.3)
    exp = dict(FINAL[NPID_INTERCLR], K=4096, epochs=int(g['epochs']),
               intra_m=0., inter_m=0.)
    if g['labels']:  # Fig. 5a: random negatives
        exp.update(labels=g['labels'], strategy='random')
    if g['neg']:  # Fig. 5b
        exp['strategy'] = g['neg']
    if g['intra_m']:  # Fig. 6a
        exp['intra_m'] = float(g['intra_m'])
    if g['inter_m']:  # Fig. 6b
        exp['inter_m'] = float(g['inter_m'])
    if g['lam']:  # Fig. 8: 200 epochs, random negatives
        exp.update(lam=float(g['lam']), strategy='random')
    if g['negs']:  # K study: the final margins
        exp.update(K=int(g['negs']), inter_m=-0.5)
    return exp


def load(name):
    """A private copy of a configs/interclr config (parsed once)."""
    return load_config(osp.join(INTERCLR_DIR, name))


EXTRACT_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
#: NPIDv2's view, spec A6 read literally (jitter applied always: assumed)
NPIDV2_VIEW = [
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=[0.2, 1.],
         backend='pillow'),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=[0.114, 0.587, 0.2989]),
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0., contrast=0.,
                          saturation=1., hue=0.5)],
         prob=1.0),
    dict(type='GaussianBlur', magnitude_range=[0.1, 2.0],
         magnitude_std='inf', prob=0.5),
    dict(type='RandomFlip', prob=0.5),
]


def _lists(node):
    """Tuples as lists, to compare configs with literals."""
    if isinstance(node, dict):
        return {k: _lists(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_lists(v) for v in node]
    return node


# ------------------------------------------------------------ file names --
def test_configs_complete():
    """Every config the spec asks for exists, and no unknown one."""
    assert len(ABLATIONS) == 26
    for name in ABLATIONS:
        expected(name)  # parses
    found = {
        osp.relpath(c, INTERCLR_DIR)
        for c in glob.glob(osp.join(INTERCLR_DIR, '**', '*.py'),
                           recursive=True)
        if '_base_' not in c and 'fashionmnist' not in c
        and 'multihead' not in osp.basename(c)
    }
    # pool5 k-NN and linear probe: tests/test_configs_ssl_eval.py
    assert found == set(PRETRAIN) | set(SEMI.values()) | {
        'benchmarks/resnet50-pool5_knn-k20_in1k.py',
        'benchmarks/resnet50-pool5_8xb32-linear-steplr-100e_in1k.py'}


def test_expected_values_from_names():
    t100 = TAIL.format(100)
    exp = expected('ablations/interclr-npidv2-inter-m-0.7' + t100)
    assert (exp['K'], exp['epochs'], exp['intra_m'], exp['inter_m'],
            exp['strategy'], exp['labels']) == (4096, 100, 0., -0.7,
                                                'semihard', 'online')
    exp = expected('ablations/interclr-npidv2-labels-offline' + t100)
    assert (exp['labels'], exp['strategy'], exp['inter_m']) == (
        'offline', 'random', 0.)
    exp = expected('ablations/interclr-npidv2-lambda0.25' + TAIL.format(200))
    assert (exp['lam'], exp['epochs'], exp['strategy']) == (0.25, 200,
                                                            'random')
    exp = expected('ablations/interclr-npidv2-negs16384' + t100)
    assert (exp['K'], exp['inter_m'], exp['strategy']) == (16384, -0.5,
                                                           'semihard')
    with pytest.raises(AssertionError):
        expected('ablations/interclr-npidv2-neg-easy' + t100)


# ------------------------------------------------- pretraining configs --
def _check_schedule(cfg, name, exp):
    optimizer = cfg.optim_wrapper.optimizer
    epochs = exp['epochs']
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size == 32  # x 8 GPUs
    if name == BYOL:  # BYOL's, accumulated 16 times (8 x 32 x 16 = 4096)
        base = mmpretrain_cfg(BYOL_BASE)
        assert (optimizer.type, optimizer.lr, optimizer.momentum,
                optimizer.weight_decay) == ('LARS', 4.8, 0.9, 1e-6)
        assert cfg.optim_wrapper.accumulative_counts == 16
        assert 32 * 8 * cfg.optim_wrapper.accumulative_counts == 4096
        assert strip_scope(cfg.optim_wrapper.paramwise_cfg) == strip_scope(
            base.optim_wrapper.paramwise_cfg)
        assert strip_scope(cfg.param_scheduler) == strip_scope(
            base.param_scheduler)
        assert cfg.param_scheduler[-1].end == epochs
    else:  # SGD 0.03, cosine, batch 256
        assert (optimizer.type, optimizer.lr, optimizer.momentum,
                optimizer.weight_decay) == ('SGD', 0.03, 0.9, 1e-4)
        assert 'accumulative_counts' not in cfg.optim_wrapper
        assert 'paramwise_cfg' not in cfg.optim_wrapper
        assert strip_scope(cfg.param_scheduler) == [
            dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True,
                 begin=0, end=epochs)]
    assert cfg.auto_scale_lr == dict(base_batch_size=256)


def _check_train_data(cfg, name):
    loader = cfg.train_dataloader
    dataset = loader.dataset
    assert (dataset.type, dataset.data_root, dataset.split) == (
        'ImageNet', 'data/imagenet/', 'train')
    assert 'indices' not in dataset and 'ann_file' not in dataset
    assert strip_scope(loader.sampler) == dict(type='DefaultSampler',
                                               shuffle=True)
    pipeline = strip_scope(dataset.pipeline)
    if name == MOCO:
        base = mmpretrain_cfg(MOCO_BASE)
        assert pipeline == strip_scope(base.train_dataloader.dataset.pipeline)
    elif name == BYOL:
        base = mmpretrain_cfg(BYOL_BASE)
        assert pipeline == strip_scope(base.train_dataloader.dataset.pipeline)
    else:  # NPIDv2: one view per image
        load_img, views, pack = pipeline
        assert load_img == dict(type='LoadImageFromFile')
        assert pack == dict(type='PackInputs')
        assert (views['type'], views['num_views']) == ('MultiView', 1)
        assert _lists(views['transforms']) == [NPIDV2_VIEW]
    assert strip_scope(cfg.data_preprocessor)['type'] == \
        'SelfSupDataPreprocessor'


def _check_hook(cfg, exp):
    assert [h.type for h in cfg.custom_hooks] == [exp['hook']]
    hook = cfg.custom_hooks[0]
    if exp['hook'] == 'mmmix.MemoryBankHook':
        assert hook == dict(type='mmmix.MemoryBankHook')
        return
    assert (hook.centroid_interval, hook.repair_interval,
            hook.stats_interval, hook.offline_interval,
            hook.warmup_epochs) == (10, 1, 50, 1, 0)
    assert hook.feat_source == exp['feat_source']
    # the training images in training order, deterministic pipeline
    loader, train = hook.dataloader, cfg.train_dataloader.dataset
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert loader.batch_size == 64
    assert loader.collate_fn == dict(type='default_collate')
    for key in ('type', 'data_root', 'split', 'ann_file', 'indices'):
        assert loader.dataset.get(key) == train.get(key), key
    assert loader.dataset.pipeline == EXTRACT_PIPELINE


@pytest.mark.parametrize('name', PRETRAIN)
def test_pretrain_config_values(name):
    exp = expected(name)
    cfg = load(name)
    assert cfg.default_scope == 'mmmix'
    assert cfg.custom_imports == dict(imports=['mmmix'],
                                      allow_failed_imports=False)
    model = cfg.model
    assert model.type == exp['type']
    assert (model.backbone.type, model.backbone.depth) == ('ResNet', 50)

    memory = model.memory
    assert memory.type == 'mmmix.PseudoLabelMemory'
    assert memory.length == NUM_IMAGES
    assert (memory.feat_dim, memory.momentum) == (exp['feat_dim'],
                                                  exp['momentum'])
    assert memory.get('num_clusters') == exp['k']
    if exp['k'] is not None:
        assert (memory.assign_metric, memory.min_cluster) == ('dot', 20)

    if name == BYOL:  # BYOL's networks; target EMA 0.99 per update
        base = mmpretrain_cfg(BYOL_BASE)
        for key in ('backbone', 'neck', 'head'):
            assert strip_scope(model[key]) == strip_scope(base.model[key])
        assert (1 - model.base_momentum)**16 == pytest.approx(0.99)
        assert 'inter_head' not in model and 'num_negatives' not in model
    else:
        neck = model.neck
        assert (neck.type, neck.in_channels, neck.hid_channels,
                neck.out_channels, neck.with_avg_pool) == (
                    'MoCoV2Neck', 2048, 2048, 128, True)
        assert (model.head.type, model.head.temperature,
                model.head.margin) == ('mmmix.MarginNCEHead',
                                       exp['temperature'], exp['intra_m'])
        assert strip_scope(model.head.loss) == dict(type='CrossEntropyLoss')
        assert model.num_negatives == exp['K']
    if name == MOCO:  # MoCo v2's queue and key encoder
        assert (model.queue_len, model.feat_dim, model.momentum) == (
            65536, 128, 0.001)
    if model.type == 'mmmix.InterCLRNPID':
        assert model.get('num_inter_negatives') is None  # the same K
    if 'InterCLR' in model.type:
        assert model.intra_weight == exp['lam']
        assert model.label_update == exp['labels']
        assert model.exclude_self_positive is False
    if model.type in ('mmmix.InterCLRMoCo', 'mmmix.InterCLRNPID'):
        inter = model.inter_head
        assert (inter.type, inter.temperature, inter.margin) == (
            'mmmix.MarginNCEHead', exp['temperature'], exp['inter_m'])
        assert (model.neg_strategy, model.pool_ratio) == (exp['strategy'],
                                                          0.1)
        assert model.get('pool_size') is None
    _check_schedule(cfg, name, exp)
    _check_train_data(cfg, name)
    _check_hook(cfg, exp)


# --------------------------------------------------------------- models --
W = 4  # width of the tiny backbone
N = 64  # memory rows
D = 8  # embedding size
TINY_BACKBONE = dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                     stem_channels=W, base_channels=W,
                     norm_cfg=dict(type='BN'))


def tiny(cfg):
    """The config with a width-4 ResNet-18, an 8-d embedding and a 64-row
    memory of 4 clusters (K = 8, pool 16, queue 16)."""
    cfg = copy.deepcopy(cfg)
    model = cfg.model
    model.backbone = ConfigDict(TINY_BACKBONE)
    model.neck.update(in_channels=8 * W, hid_channels=16, out_channels=D)
    if 'predictor' in model.head:
        model.head.predictor.update(in_channels=D, hid_channels=16,
                                    out_channels=D)
    model.memory.update(length=N, feat_dim=D)
    if model.memory.get('num_clusters'):
        model.memory.update(num_clusters=4, min_cluster=2)
    if 'num_negatives' in model:
        model.num_negatives = 8
    if 'pool_ratio' in model:
        model.pool_ratio = 0.25
    if 'queue_len' in model:
        model.update(queue_len=16, feat_dim=D)
    return cfg


def fake_batch(num_views, idx, seed=0):
    """uint8 views as ``default_collate`` gives them and data samples with
    the images' dataset indices."""
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (len(idx), 3, 32, 32), generator=g,
                            dtype=torch.uint8) for _ in range(num_views)]
    samples = [DataSample(metainfo=dict(sample_idx=int(i))) for i in idx]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('name', PRETRAIN)
def test_model_loss(name):
    """The config's model with a tiny backbone builds, runs one ``loss``
    step on 4 random 32 px images after the memory is filled (what the
    hook does) and gives the expected, finite losses; the staged memory
    update relabels the batch with online labels only."""
    exp = expected(name)
    cfg = tiny(load(name))
    torch.manual_seed(0)
    model = revert_sync_batchnorm(build_model_from_cfg(cfg))
    model.train()
    assert type(model).__name__ == exp['type'].split('.')[-1]
    memory = model.memory
    assert (memory.length, memory.feat_dim, memory.momentum) == (
        N, D, exp['momentum'])
    g = torch.Generator().manual_seed(1)
    feats = torch.randn(N, D, generator=g)
    if exp['k'] is None:
        memory.init_memory(feats)
    else:
        memory.init_memory(feats, torch.arange(N) % 4)
    idx = torch.tensor([3, 17, 42, 60])
    num_views = 1 if 'NPID' in exp['type'] else 2
    data = model.data_preprocessor(fake_batch(num_views, idx), True)
    assert len(data['inputs']) == num_views
    losses = model(**data, mode='loss')
    for key, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), (key, value)
    if exp['type'] == 'mmmix.NPID':
        assert set(losses) == {'loss'}
        assert model.commit_memory() is None
        return
    lam = exp['lam']
    assert model.intra_weight == lam
    assert model.inter_weight == pytest.approx(1 - lam)
    if lam == 1:  # the inter branch is not computed
        assert set(losses) == {'intra_loss'}
    else:
        assert set(losses) == {'intra_loss', 'inter_loss'}
    if lam == 0:  # the intra head is built, its loss weighted 0
        assert float(losses['intra_loss'].detach()) == 0.
        assert model.head is not None
    if 'strategy' in exp:
        assert (model.neg_strategy, model.num_negatives,
                model.pool_size) == (exp['strategy'], 8, 16)
        assert model.inter_head.margin == exp['inter_m']
        assert model.head.margin == exp['intra_m']
    labels = memory.labels.clone()
    change = model.commit_memory()
    if exp['labels'] == 'online':
        assert 0. <= float(change) <= 1.
    else:  # offline: only the hook's re-clustering changes labels
        assert change is None
        assert torch.equal(memory.labels, labels)


@pytest.mark.parametrize('name', sorted(FINAL) + [
    'ablations/interclr-npidv2-lambda0.0' + TAIL.format(200)])
def test_optimizer_scheduler_hooks_build(name):
    """The optimizer wrapper, LR schedulers and hooks of the config build
    (on the tiny model); the LR follows the schedule."""
    cfg = tiny(load(name))
    model = build_model_from_cfg(cfg)
    with DefaultScope.overwrite_default_scope('mmmix'):
        wrapper = build_optim_wrapper(model,
                                      copy.deepcopy(cfg.optim_wrapper))
        schedulers = []
        for s in copy.deepcopy(cfg.param_scheduler):
            s.pop('convert_to_iter_based', None)  # one step an epoch here
            schedulers.append(PARAM_SCHEDULERS.build(
                s, default_args=dict(optimizer=wrapper)))
        hooks = [HOOKS.build(copy.deepcopy(h)) for h in cfg.custom_hooks]
    assert [type(h).__name__ for h in hooks] == [
        h.type.split('.')[-1] for h in cfg.custom_hooks]
    lr = cfg.optim_wrapper.optimizer.lr
    assert wrapper._accumulative_counts == \
        cfg.optim_wrapper.get('accumulative_counts', 1)
    epochs = cfg.train_cfg.max_epochs
    for _ in range(epochs // 2):
        for s in schedulers:
            s.step()
    lrs = {g['lr'] for g in wrapper.optimizer.param_groups}
    if name == BYOL:  # 10 warm-up epochs, cosine over 190
        assert max(lrs) == pytest.approx(lr * (1 + np.cos(np.pi * 90 / 190))
                                         / 2)
    else:  # cosine over the run: half-way at half the lr
        assert [x == pytest.approx(lr / 2) for x in lrs] == [True]


# ------------------------------------------------------------ pipelines --
def _build(pipeline):
    with DefaultScope.overwrite_default_scope('mmmix'):
        return [TRANSFORMS.build(copy.deepcopy(t)) for t in pipeline]


def _run(transforms, img):
    results = dict(img=img, img_shape=img.shape[:2], ori_shape=img.shape[:2],
                   sample_idx=0)
    for t in transforms:
        results = t(results)
        assert results is not None
    return results


@pytest.fixture(scope='module')
def raw_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)


def test_npidv2_train_pipeline(raw_image):
    """NPIDv2's pipeline gives one 224 px view per image."""
    pipeline = load(NPID).train_dataloader.dataset.pipeline
    out = _run(_build(pipeline[1:]), raw_image.copy())
    assert isinstance(out['inputs'], list) and len(out['inputs']) == 1
    assert tuple(out['inputs'][0].shape) == (3, 224, 224)
    assert out['inputs'][0].dtype == torch.uint8
    assert out['data_samples'].sample_idx == 0


def test_extraction_pipeline_is_deterministic(raw_image):
    """InterCLRHook's pipeline: the same 224 px centre crop every time."""
    transforms = _build(EXTRACT_PIPELINE[1:])
    first = _run(transforms, raw_image.copy())['inputs']
    second = _run(transforms, raw_image.copy())['inputs']
    assert tuple(first.shape) == (3, 224, 224)
    assert torch.equal(first, second)


# ----------------------------------------------------------- benchmarks --
@pytest.fixture(scope='module')
def classifier():
    """The fine-tuning configs' classifier with a tiny backbone."""
    cfg = load(SEMI['1'])
    cfg.model.backbone = ConfigDict(TINY_BACKBONE)
    cfg.model.head.in_channels = 8 * W
    with DefaultScope.overwrite_default_scope('mmmix'):
        return MODELS.build(cfg.model)


@pytest.mark.parametrize('pct,weight_decay', [('1', 5e-4), ('10', 1e-4)])
def test_semi_supervised_config(pct, weight_decay, classifier):
    cfg = load(SEMI[pct])
    assert cfg.default_scope == 'mmmix'
    assert 'mmmix' in cfg.custom_imports.imports
    model = cfg.model
    assert model.type == 'ImageClassifier'
    assert (model.backbone.type, model.backbone.depth,
            model.backbone.frozen_stages) == ('ResNet', 50, -1)  # all layers
    init = model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert init.checkpoint.startswith('work_dirs/interclr-mocov2_resnet50')
    assert (model.head.type, model.head.num_classes) == ('LinearClsHead',
                                                         1000)
    train = cfg.train_dataloader
    assert train.batch_size == 32  # x 8 GPUs = 256
    assert (train.dataset.split, train.dataset.ann_file) == (
        'train', f'meta/{pct}percent.txt')
    assert [t['type'] for t in train.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    for key in ('val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.split == 'val'
        assert strip_scope(cfg[key].dataset.pipeline)[1:3] == \
            EXTRACT_PIPELINE[1:3]
    for key in ('val_evaluator', 'test_evaluator'):
        assert (cfg[key].type, tuple(cfg[key].topk)) == ('Accuracy', (1, 5))

    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.01, 0.9, weight_decay)
    assert cfg.optim_wrapper.paramwise_cfg == dict(
        custom_keys={'head': dict(lr_mult=100.)})
    assert strip_scope(cfg.param_scheduler) == [
        dict(type='MultiStepLR', by_epoch=True, milestones=[12, 16],
             gamma=0.2)]
    assert cfg.train_cfg.max_epochs == 20
    assert cfg.auto_scale_lr == dict(base_batch_size=256)

    # the param groups: backbone 0.01, the linear classifier 1.0
    with DefaultScope.overwrite_default_scope('mmmix'):
        wrapper = build_optim_wrapper(classifier,
                                      copy.deepcopy(cfg.optim_wrapper))
    lrs = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = (group['lr'], group['weight_decay'])
    for pname, p in classifier.named_parameters():
        want = 1.0 if pname.startswith('head.') else 0.01
        assert lrs[id(p)] == (pytest.approx(want), weight_decay), pname
    assert any(n.startswith('head.fc') for n, _ in
               classifier.named_parameters())
    schedulers = [PARAM_SCHEDULERS.build(
        copy.deepcopy(s), default_args=dict(optimizer=wrapper,
                                            epoch_length=1))
        for s in cfg.param_scheduler]
    for _ in range(16):
        for s in schedulers:
            s.step()
    head_lr = max(g['lr'] for g in wrapper.optimizer.param_groups)
    assert head_lr == pytest.approx(1.0 * 0.2 * 0.2)  # x0.2 at 12 and 16


def test_semi_supervised_subset_is_read(tmp_path):
    """The 1% annotation file (``<wnid>/<file> <label>`` lines) selects
    exactly its images from data_root/train."""
    check_subset_annotation_read(load(SEMI['1']), tmp_path)


@pytest.mark.parametrize('name', [MOCO, NPID_INTERCLR, BYOL])
def test_datasets_on_fake_imagenet(name, fake_imagenet):
    """The train set and InterCLRHook's extraction set, built as the runner
    builds them, on image files: the same images in the same order (one
    memory row each), the train views of the method, the extraction images
    224 px and identical on every read."""
    cfg = load(name)
    train = copy.deepcopy(cfg.train_dataloader.dataset)
    extract = copy.deepcopy(cfg.custom_hooks[0].dataloader.dataset)
    train.data_root = extract.data_root = fake_imagenet
    with DefaultScope.overwrite_default_scope('mmmix'):
        train_set = DATASETS.build(train)
        extract_set = DATASETS.build(extract)
    assert len(train_set) == len(extract_set) == 4
    for i in range(4):
        assert train_set.get_data_info(i)['img_path'] == \
            extract_set.get_data_info(i)['img_path']
        item = train_set[i]
        views = 1 if 'npid' in name else 2
        assert [tuple(x.shape) for x in item['inputs']] == \
            [(3, 224, 224)] * views
        assert item['data_samples'].sample_idx == i
        out = extract_set[i]
        assert tuple(out['inputs'].shape) == (3, 224, 224)
        assert out['data_samples'].sample_idx == i
        assert torch.equal(out['inputs'], extract_set[i]['inputs'])
