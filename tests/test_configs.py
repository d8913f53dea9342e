"""Every config under configs/ parses and builds, and its model trains.

Configs whose data is Fashion-MNIST get generated data in the same format
and a batch from their real train dataloader. The others (CIFAR,
TinyImageNet, ImageNet: no data here) get two random images of the raw
kind their dataset yields (an array, or an image file when the pipeline
starts by loading one) run through their own train pipeline, so the input
size (32, 64, 224) comes from the pipeline's crop, not from the file name.
For every config the data pipelines, optimizer, LR schedulers and
evaluators are built, and a ``MixupClassifier`` (or ``MetricRetriever``)
runs a ``mode='loss'`` forward in each of its mixing modes with finite
losses.

The 66 ResNet-50 Metrix configs of the paper datasets (CUB200, Cars196, SOP,
In-Shop; ``configs/metrix/*_resnet50*``) are too many to build a runner for
each: they have their own tests at the end of this file (structure and
model build of every config, the thesis's hyper-parameters per loss and
dataset, the data sections on tiny generated archives, and one ResNet-50
loss forward at 64x64). The ImageNet CLIM configs (``configs/clim``, all
but the Fashion-MNIST ones) are checked in ``tests/test_configs_clim.py``.
The LMA and learned-views configs (``configs/lma``,
``configs/learned_views``) read offline artefacts (feature banks, IC-GAN
checkpoints, view caches): ``tests/test_configs_lma.py`` and
``tests/test_configs_learned_views.py`` fabricate them and check those.
"""
import contextlib
import copy
import functools
import glob
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.config.config import ConfigDict
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.datasets.transforms import PackInputs
from mmpretrain.structures import DataSample

from mmmix.datasets.fashion_mnist import DEBIAN_FASHION_MNIST
from mmmix.engine import build_runner
from mmmix.engine.runner import MMMixRunner, resolve_collate_fn
from mmmix.models import MetricRetriever
from mmmix.registry import METRICS, MODELS, PARAM_SCHEDULERS, TRANSFORMS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)
METRIX_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'metrix', '*.py')))
#: the ResNet-50 Metrix configs (tested separately, see the end of the file)
METRIX_PAPER = [c for c in METRIX_CONFIGS if 'fashionmnist' not in c]
METRIX_FASHION = [c for c in METRIX_CONFIGS if 'fashionmnist' in c]
#: the ImageNet CLIM configs (pretraining, ablations, benchmarks): no data
#: here, and SSL models have no head.num_classes; tests/test_configs_clim.py
#: checks them
CLIM_PAPER = sorted(
    f for f in glob.glob(osp.join(ROOT, 'configs', 'clim', '**', '*.py'),
                         recursive=True)
    if 'fashionmnist' not in f)
#: the InterCLR configs: their models need the hook's clustering before a
#: step; tests/test_configs_interclr*.py and the hook tests check them
INTERCLR = sorted(glob.glob(osp.join(ROOT, 'configs', 'interclr', '**',
                                     '*.py'), recursive=True))
#: the DINO / DoRA presets: fp16 ViT-S (mmengine's AmpOptimWrapper needs a
#: GPU) and video clips; tests/test_configs_dino.py and
#: tests/test_configs_dora.py check them (the Fashion-MNIST ones stay here)
DINO_DORA = sorted(
    f for f in glob.glob(osp.join(ROOT, 'configs', 'dino', '*.py')) +
    glob.glob(osp.join(ROOT, 'configs', 'dora', '**', '*.py'),
              recursive=True)
    if 'fashionmnist' not in f)
#: mmdet / mmseg configs (not runnable with this stack);
#: tests/test_configs_transfer.py checks them
TRANSFER = sorted(glob.glob(osp.join(ROOT, 'configs', 'transfer', '*.py')))
#: the LMA and learned-views configs, Fashion-MNIST ones included: they read
#: a feature bank, a kNN graph, an IC-GAN checkpoint or view caches that do
#: not exist here (and the GAN configs train through train_step);
#: tests/test_configs_lma.py and tests/test_configs_learned_views.py build
#: them from fabricated artefacts and train every kind
GENERATED_VIEWS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'lma', '**', '*.py'),
              recursive=True) +
    glob.glob(osp.join(ROOT, 'configs', 'learned_views', '**', '*.py'),
              recursive=True))
CONFIGS = sorted(
    f for f in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True)
    if '_base_' not in f and f not in METRIX_PAPER and f not in CLIM_PAPER
    and f not in INTERCLR and f not in DINO_DORA and f not in TRANSFER
    and f not in GENERATED_VIEWS)

#: the network input size each dataset's train pipeline must produce
#: (CustomDataset is keyed by the data root's folder name)
EXPECTED_SIZE = {
    'CIFAR10': 32,
    'CIFAR100': 32,
    'ImageNet': 224,
    'tiny-imagenet-200': 64,
}
#: raw image size fed to the synthetic pipelines: larger than every crop and
#: not square, so the output size is the pipeline's doing
RAW_HW = (80, 96)


def walk(node):
    """Every dict in a config tree."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from walk(value)


def data_roots(cfg):
    return {d['data_root'] for d in walk(cfg._cfg_dict) if 'data_root' in d}


def uses_fashion_mnist_only(cfg):
    roots = data_roots(cfg)
    return bool(roots) and roots <= {DEBIAN_FASHION_MNIST}


def swap_data_roots(node, fixtures):
    """Point every dataset at generated data of the same format."""
    for d in walk(node):
        if d.get('data_root') == DEBIAN_FASHION_MNIST:
            d['data_root'] = fixtures['fashion_mnist']


def pipelines(cfg):
    """Every transform list of the config (dataloaders, hooks, variables)."""
    found = []
    for d in walk(cfg._cfg_dict):
        for key, value in d.items():
            if key.endswith('pipeline') and isinstance(value, (list, tuple)):
                found.append((key, value))
    return found


def innermost_dataset(loader_cfg):
    dataset = loader_cfg['dataset']
    while 'pipeline' not in dataset and 'dataset' in dataset:
        dataset = dataset['dataset']
    return dataset


def preprocessor_cfg(cfg):
    """The data preprocessor the runner gives the model."""
    return cfg.model.get('data_preprocessor') or cfg.get(
        'data_preprocessor') or {}


def expected_size(dataset):
    if dataset['type'] in EXPECTED_SIZE:
        return EXPECTED_SIZE[dataset['type']]
    return EXPECTED_SIZE.get(osp.basename(str(dataset.get('data_root', ''))))


def build_transforms(pipeline):
    return [TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in pipeline]


def run_pipeline(transforms, img, label, index, tmp_path, tag):
    """A raw sample as the dataset yields it (an array, or an image file if
    the pipeline loads one), through ``transforms``."""
    if type(transforms[0]).__name__ == 'LoadImageFromFile':
        path = str(tmp_path / f'{tag}_{index}.png')
        assert cv2.imwrite(path, img)
        results = dict(img_path=path, gt_label=label, sample_idx=index)
    else:
        results = dict(img=img, gt_label=label, sample_idx=index)
    for t in transforms:
        results = t(results)
        assert results is not None, f'{t} dropped the sample'
    assert 'inputs' in results and 'data_samples' in results
    return results


def synthetic_batch(cfg, tmp_path, num_classes, batch_size=2, seed=0):
    """Random raw images and labels through the train pipeline, collated by
    the config's collate function; also returns the input size the
    dataset needs."""
    rng = np.random.default_rng(seed)
    dataset = innermost_dataset(cfg.train_dataloader)
    transforms = build_transforms(dataset['pipeline'])
    channels = len(preprocessor_cfg(cfg)['mean'])
    samples = [
        run_pipeline(
            transforms,
            rng.integers(0, 256, RAW_HW + (channels, ), dtype=np.uint8),
            int(rng.integers(num_classes)), i, tmp_path, 'train')
        for i in range(batch_size)
    ]
    collate = resolve_collate_fn(
        cfg.train_dataloader.get('collate_fn',
                                 dict(type='pseudo_collate')))
    return collate(samples), expected_size(dataset), dataset['type']


def run_other_pipelines(cfg, tmp_path):
    """The val/test pipelines accept a raw sample of the same kind."""
    channels = len(preprocessor_cfg(cfg)['mean'])
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            transforms = build_transforms(
                innermost_dataset(cfg[key])['pipeline'])
            run_pipeline(transforms, np.zeros(RAW_HW + (channels, ),
                                              np.uint8), 0, 0, tmp_path, key)


def check_schedule_and_evaluators(runner, cfg):
    paramwise = cfg.optim_wrapper.get('paramwise_cfg') or {}
    names = [name for name, _ in runner.model.named_parameters()]
    for key, options in (paramwise.get('custom_keys') or {}).items():
        # mmengine ignores misspelt options and keys matching nothing
        assert set(options) <= {'lr_mult', 'decay_mult'}, options
        assert any(key in name for name in names), \
            f'paramwise custom key {key!r} matches no parameter'
    optim_wrapper = runner.build_optim_wrapper(cfg.optim_wrapper)
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    for scheduler in schedulers:
        PARAM_SCHEDULERS.build(
            ConfigDict(scheduler),
            default_args=dict(optimizer=optim_wrapper, epoch_length=10))
    for key in ('val_evaluator', 'test_evaluator'):
        if cfg.get(key):
            runner.build_evaluator(cfg[key])


def check_losses(model, data):
    """One loss forward per mixing mode (or one if the model has none)."""
    modes = getattr(model, 'mix_modes', None)
    choices = range(len(modes)) if modes else [None]
    seen = []
    for index in choices:
        if index is not None:
            # MixupClassifier.choose_mode returns an index, MetricRetriever's
            # the mode itself
            choice = modes[index] if isinstance(model, MetricRetriever) \
                else index
            model.choose_mode = lambda device=None, c=choice: c
        try:
            losses = model(**data, mode='loss')
        finally:
            model.__dict__.pop('choose_mode', None)
        assert losses, f'mode {index}: no losses'
        for name, value in losses.items():
            if torch.is_tensor(value):
                assert torch.isfinite(value).all(), \
                    f'mode {index}: {name} = {value}'
        seen.append(sorted(losses))
    return seen


def test_configs_found():
    assert CONFIGS, 'no configs found'
    assert any(not uses_fashion_mnist_only(Config.fromfile(c))
               for c in CONFIGS), 'expected configs for paper datasets'


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(c, ROOT) for c in CONFIGS])
def test_config_builds(path, fashion_root, tmp_path):
    cfg = Config.fromfile(path)
    real_data = uses_fashion_mnist_only(cfg)
    swap_data_roots(cfg._cfg_dict, dict(fashion_mnist=fashion_root))
    cfg.work_dir = str(tmp_path / 'work_dir')
    cfg.log_level = 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(batch_size=2, num_workers=0,
                            persistent_workers=False)
    head = cfg.model.get('head') or {}
    preprocessor = preprocessor_cfg(cfg)
    if 'num_classes' in head and 'num_classes' in preprocessor:
        assert head['num_classes'] == preprocessor['num_classes'], (
            f"head.num_classes={head['num_classes']} but the data "
            f"preprocessor's is {preprocessor['num_classes']}")

    runner = build_runner(cfg)
    for name, pipeline in pipelines(cfg):
        assert build_transforms(pipeline), f'empty {name}'
    check_schedule_and_evaluators(runner, cfg)

    model = runner.model
    model.train()
    if real_data:
        loader = runner.build_dataloader(cfg.train_dataloader)
        batch = next(iter(loader))
    else:
        run_other_pipelines(cfg, tmp_path)
        batch, size, dataset_type = synthetic_batch(
            cfg, tmp_path, num_classes=head['num_classes'])
        assert size is not None, f'no expected input size for {dataset_type}'
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        if not real_data:
            shape = tuple(data['inputs'].shape)
            assert shape == (2, 3, size, size), (
                f'train pipeline gives {shape}, {dataset_type} needs '
                f'{size}x{size}')
        check_losses(model, data)


# ------------------------------------------------------ Metrix (paper) ----
# The 4 losses x 4 levels x 4 datasets ResNet-50 configs of configs/metrix
# and the CUB200 d = 128 ablation. Each config is parsed once per session.
METRIX_NAME = re.compile(
    r'^(?P<loss>contrastive|ms|proxyanchor|proxyncapp)'
    r'(?P<level>|-metrix-input|-metrix|-metrix-embed)'
    r'_resnet50(?P<d128>-d128)?_1xb100-100e_(?P<ds>cub|cars|sop|inshop)\.py$')
METRIX_LEVELS = {
    '': [dict(level='none')],
    '-metrix-input': [dict(level='input', hard_k=3)],  # k = 3 (spec A7)
    '-metrix': [dict(level='feature')],
    '-metrix-embed': [dict(level='embedding')],
}
#: per dataset (thesis Table 4.2, spec §3.1 and §4): the dataset class, data
#: root, number of training classes (the real splits, spec A12), sampling,
#: Recall@K and the learning rate
METRIX_DATASETS = {
    'cub': dict(type='CUB200DML', root='data/CUB_200_2011', classes=100,
                balanced=False, topk=(1, 2, 4, 8), lr=1e-4),
    'cars': dict(type='Cars196DML', root='data/cars196', classes=98,
                 balanced=False, topk=(1, 2, 4, 8), lr=1e-4),
    'sop': dict(type='SOPDML', root='data/Stanford_Online_Products',
                classes=11318, balanced=True, topk=(1, 10, 100, 1000),
                lr=3e-5),
    'inshop': dict(type='InShopDML', root='data/inshop', classes=3997,
                   balanced=True, topk=(1, 10, 20, 30, 40, 50), lr=1e-4),
}
#: the PML loss of each loss name (spec §3.2, A1, A9, A10); proxy losses
#: also get num_classes and their proxies lr x 100
METRIX_LOSSES = {
    'contrastive': dict(type='ContrastiveLoss', pos_margin=0,
                        neg_margin=0.5),
    'ms': dict(type='MultiSimilarityLoss', alpha=18, beta=75, base=0.77),
    'proxyanchor': dict(type='ProxyAnchorLoss', embedding_size=512,
                        margin=0.1, alpha=32),
    'proxyncapp': dict(type='ProxyNCALoss', embedding_size=512,
                       softmax_scale=9),  # T = 1/9 (assumed, spec A9)
}
PROXY_KEY = 'loss_module.loss.proxies'
#: (loss, dataset, lr decay factor every 10 epochs): thesis §4.4.1, x0.1
#: for contrastive and x0.5 for MS / PA on CUB200 / Cars196, x0.25 for every
#: loss on SOP / In-Shop; ProxyNCA++ on CUB200 / Cars196 is not given
#: (assumed x0.5, spec A2); the 10-epoch step is assumed too
METRIX_SPEC = [
    ('contrastive', 'cub', 0.1), ('contrastive', 'cars', 0.1),
    ('contrastive', 'sop', 0.25), ('contrastive', 'inshop', 0.25),
    ('ms', 'cub', 0.5), ('ms', 'cars', 0.5),
    ('ms', 'sop', 0.25), ('ms', 'inshop', 0.25),
    ('proxyanchor', 'cub', 0.5), ('proxyanchor', 'cars', 0.5),
    ('proxyanchor', 'sop', 0.25), ('proxyanchor', 'inshop', 0.25),
    ('proxyncapp', 'cub', 0.5), ('proxyncapp', 'cars', 0.5),
    ('proxyncapp', 'sop', 0.25), ('proxyncapp', 'inshop', 0.25),
]
PACK_META_KEYS = PackInputs.DEFAULT_META_KEYS


@functools.lru_cache(maxsize=None)
def _parse(path):
    return Config.fromfile(path)


def metrix_cfg(name):
    """A private copy of a configs/metrix config (parsed once)."""
    return copy.deepcopy(_parse(osp.join(ROOT, 'configs', 'metrix', name)))


def metrix_name(path):
    match = METRIX_NAME.match(osp.basename(path))
    assert match, f'{osp.basename(path)} does not follow the naming scheme'
    return match.groupdict()


def metrix_paper_name(loss, level, ds, d128=False):
    d = '-d128' if d128 else ''
    return f'{loss}{level}_resnet50{d}_1xb100-100e_{ds}.py'


@contextlib.contextmanager
def no_weight_init():
    """Skip the random weight initialisation of ``torch.nn.init`` (most of
    a ResNet-50's build time); shapes and names are all a structural check
    needs, the weights are left uninitialised."""
    names = [n for n in dir(torch.nn.init)
             if n.endswith('_') and not n.startswith('_')]
    saved = {n: getattr(torch.nn.init, n) for n in names}
    try:
        for n in names:
            setattr(torch.nn.init, n, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for n, fn in saved.items():
            setattr(torch.nn.init, n, fn)


def build_metrix_model(cfg, init=True):
    """The config's model (its data preprocessor as the runner gives it),
    without the ImageNet checkpoint."""
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.backbone.get('init_cfg'):
        model_cfg.backbone.init_cfg = None
    model_cfg.setdefault('data_preprocessor', cfg.get('data_preprocessor'))
    if init:
        return MODELS.build(model_cfg)
    with no_weight_init():
        return MODELS.build(model_cfg)


def test_metrix_paper_configs_complete():
    expected = {
        metrix_paper_name(loss, level, ds)
        for loss in METRIX_LOSSES for level in METRIX_LEVELS
        for ds in METRIX_DATASETS
    }
    expected.add(metrix_paper_name('contrastive', '-metrix', 'cub', True))
    expected.add(metrix_paper_name('contrastive', '', 'cub', True))
    assert len(expected) == 66
    assert {osp.basename(c) for c in METRIX_PAPER} == expected


@pytest.mark.parametrize(
    'path', METRIX_PAPER, ids=[osp.basename(c) for c in METRIX_PAPER])
def test_metrix_paper_config_builds(path):
    """Structure of every ResNet-50 Metrix config, its model (the proxies
    lr x 100 on the real parameter name, BN frozen), optimizer, scheduler,
    transforms and evaluators."""
    parts = metrix_name(path)
    cfg = metrix_cfg(osp.basename(path))
    spec = METRIX_DATASETS[parts['ds']]
    dim = 128 if parts['d128'] else 512
    assert cfg.default_scope == 'mmmix'

    # model: R-50 (frozen BN, ImageNet init), GAP+GMP -> d, MetrixLoss
    model_cfg = cfg.model
    assert model_cfg.type == 'MetricRetriever'
    assert model_cfg.mix_modes == METRIX_LEVELS[parts['level']]
    backbone = model_cfg.backbone
    assert (backbone.type, backbone.depth, tuple(backbone.out_indices),
            backbone.frozen_stages, backbone.norm_eval) == (
                'ResNet', 50, (3, ), -1, True)
    assert backbone.norm_cfg == dict(type='BN', requires_grad=False)
    assert backbone.init_cfg == dict(
        type='Pretrained', checkpoint='torchvision://resnet50')
    assert model_cfg.neck == dict(
        type='AvgMaxPoolLinearL2Neck', in_channels=2048, out_channels=dim)
    loss = {k: v for k, v in model_cfg.loss.items() if k != 'loss'}
    assert loss == dict(type='MetrixLoss', miner=None, mixing_weight=0.4,
                        pair_modes=('pos_neg', 'anc_neg'), alpha=2.0,
                        lam_mode='batch', proxy_neg_neg=False)
    assert cfg.data_preprocessor == dict(
        type='ClsDataPreprocessor', mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375], to_rgb=True)

    model = build_metrix_model(cfg, init=False)
    params = dict(model.named_parameters())
    proxy = parts['loss'] in ('proxyanchor', 'proxyncapp')
    assert (PROXY_KEY in params) == proxy
    if proxy:
        assert params[PROXY_KEY].shape == (spec['classes'], dim)
    assert model.neck.fc.out_features == dim
    norms = [m for m in model.backbone.modules()
             if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and not any(p.requires_grad for m in norms
                             for p in m.parameters())
    model.train()
    assert not any(m.training for m in norms)  # norm_eval

    # optimizer (proxies at lr x 100), schedule, runtime
    optim_wrapper = build_optim_wrapper(model,
                                        copy.deepcopy(cfg.optim_wrapper))
    base_lr = cfg.optim_wrapper.optimizer.lr
    assert isinstance(optim_wrapper.optimizer, torch.optim.AdamW)
    assert cfg.optim_wrapper.clip_grad == dict(type='value', clip_value=10)
    lrs = {}
    for group in optim_wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = group['lr']
    assert lrs[id(params['neck.fc.weight'])] == base_lr
    if proxy:
        assert lrs[id(params[PROXY_KEY])] == pytest.approx(100 * base_lr)
    else:
        assert 'paramwise_cfg' not in cfg.optim_wrapper
    PARAM_SCHEDULERS.build(
        ConfigDict(cfg.param_scheduler),
        default_args=dict(optimizer=optim_wrapper, epoch_length=10))
    assert cfg.train_cfg == dict(by_epoch=True, max_epochs=100,
                                 val_interval=1)
    assert cfg.default_hooks.checkpoint.interval == 1

    # data: 100 images a batch (20 x 5 where balanced), zero-shot splits
    train = cfg.train_dataloader
    assert train.batch_size == 100
    if spec['balanced']:
        assert train.sampler == dict(type='ClassBalancedSampler',
                                     samples_per_class=5,
                                     batch_size=train.batch_size)
    else:
        assert train.sampler == dict(type='DefaultSampler', shuffle=True)
        assert train.drop_last
    for key, split in (('train_dataloader', 'train'),
                       ('val_dataloader', 'test'),
                       ('test_dataloader', 'test')):
        dataset = cfg[key].dataset
        assert (dataset.type, dataset.data_root, dataset.split) == (
            spec['type'], spec['root'], split)
    assert [t['type'] for t in train.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    assert train.dataset.pipeline[1].scale == 224
    meta_keys = PACK_META_KEYS + (('is_query', )
                                  if parts['ds'] == 'inshop' else ())
    for key in ('val_dataloader', 'test_dataloader'):
        pipeline = cfg[key].dataset.pipeline
        assert pipeline[:3] == [
            dict(type='LoadImageFromFile'),
            dict(type='ResizeEdge', scale=256, edge='short'),
            dict(type='CenterCrop', crop_size=224)]
        assert pipeline[3].type == 'PackInputs'
        assert tuple(pipeline[3].get('meta_keys',
                                     PACK_META_KEYS)) == meta_keys
    for name, pipeline in pipelines(cfg):
        assert build_transforms(pipeline), f'empty {name}'
    for key in ('val_evaluator', 'test_evaluator'):
        metric = METRICS.build(cfg[key])
        assert type(metric).__name__ == 'RetrievalRecall'
        assert metric.map_at_r
        assert metric.query_gallery == (parts['ds'] == 'inshop')


@pytest.mark.parametrize('loss,ds,gamma', METRIX_SPEC,
                         ids=[f'{r[0]}-{r[1]}' for r in METRIX_SPEC])
def test_metrix_paper_hyperparameters(loss, ds, gamma):
    """The thesis's numbers (spec §3) in the 4 level configs of a (loss,
    dataset) pair (and the d = 128 ablation with contrastive on CUB)."""
    spec = METRIX_DATASETS[ds]
    names = [metrix_paper_name(loss, level, ds) for level in METRIX_LEVELS]
    if (loss, ds) == ('contrastive', 'cub'):
        names += [metrix_paper_name(loss, level, ds, d128=True)
                  for level in ('', '-metrix')]
    for name in names:
        cfg = metrix_cfg(name)
        optimizer = cfg.optim_wrapper.optimizer
        assert (optimizer.type, optimizer.lr, optimizer.weight_decay) == (
            'AdamW', spec['lr'], 1e-4), name
        assert cfg.param_scheduler == dict(
            type='StepLR', by_epoch=True, begin=0, end=100, step_size=10,
            gamma=gamma), name
        assert cfg.train_cfg.max_epochs == 100
        expected = dict(METRIX_LOSSES[loss])
        if 'embedding_size' in expected:
            expected['num_classes'] = spec['classes']
            assert cfg.optim_wrapper.paramwise_cfg == dict(
                custom_keys={PROXY_KEY: dict(lr_mult=100)}), name
        assert cfg.model.loss.loss == expected, name
        assert cfg.model.loss.mixing_weight == 0.4
        assert cfg.model.loss.alpha == 2.0
        assert cfg.val_evaluator.topk == spec['topk'], name
        assert cfg.train_dataloader.batch_size == 100
        assert (cfg.train_dataloader.sampler.type == 'ClassBalancedSampler'
                ) == spec['balanced']


#: classes of the tiny archives: (train, test) in each dataset's numbering
METRIX_ARCHIVE_CLASSES = {
    'cub': ((1, 2), (101, 102)),
    'cars': ((1, 2), (99, 100)),
    'sop': ((1, 2), (11319, 11320)),
    'inshop': ((1, 2), (3, 4)),
}


def _write_lines(path, lines):
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def write_metrix_archive(ds, root, per_train=5, per_test=3):
    """A tiny copy of dataset ``ds``'s archive layout, with small images:
    two training classes of ``per_train`` images and two test classes of
    ``per_test`` (In-Shop: the first a query, the others gallery)."""
    rng = np.random.default_rng(0)
    train, test = METRIX_ARCHIVE_CLASSES[ds]
    rows = [(c, 'train') for c in train for _ in range(per_train)]
    rows += [(c, 'query' if k == 0 else 'gallery') for c in test
             for k in range(per_test)]
    prefix = dict(cub='images', cars='', sop='', inshop='')[ds]
    paths = []
    for i, (c, status) in enumerate(rows, 1):
        rel = {
            'cub': f'{c:03d}.Bird_{c}/Bird_{c}_{i}.jpg',
            'cars': f'car_ims/{i:06d}.jpg',
            'sop': f'item_final/{c}_{i}.JPG',
            'inshop': f'img/MEN/Tees/id_{c:08d}/{i:02d}_front.jpg',
        }[ds]
        paths.append(rel)
        path = osp.join(root, prefix, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(path, rng.integers(0, 256, (24, 32, 3), np.uint8))
    if ds == 'cub':
        _write_lines(osp.join(root, 'images.txt'),
                     [f'{i} {p}' for i, p in enumerate(paths, 1)])
        _write_lines(osp.join(root, 'image_class_labels.txt'),
                     [f'{i} {c}' for i, (c, _) in enumerate(rows, 1)])
    elif ds == 'cars':
        from scipy.io import savemat
        annos = np.zeros((1, len(rows)), dtype=[
            ('relative_im_path', 'O'), ('class', 'O'), ('test', 'O')])
        for i, ((c, _), p) in enumerate(zip(rows, paths)):
            annos[0, i] = (p, np.uint8(c), np.uint8(i % 2))
        savemat(osp.join(root, 'cars_annos.mat'), dict(annotations=annos))
    elif ds == 'sop':
        header = 'image_id class_id super_class_id path'
        for split, keep in (('train', lambda s: s == 'train'),
                            ('test', lambda s: s != 'train')):
            _write_lines(osp.join(root, f'Ebay_{split}.txt'), [header] + [
                f'{i} {c} 1 {p}'
                for i, ((c, s), p) in enumerate(zip(rows, paths), 1)
                if keep(s)])
    else:
        _write_lines(
            osp.join(root, 'Eval', 'list_eval_partition.txt'),
            [str(len(rows)), 'image_name item_id evaluation_status'] + [
                f'{p} id_{c:08d} {s}' for (c, s), p in zip(rows, paths)])
    return root


@pytest.mark.parametrize('ds', list(METRIX_DATASETS))
def test_metrix_paper_data(ds, tmp_path):
    """The data section, shared by the configs of a dataset, on a tiny
    archive: a train batch of the right size and class layout, and the
    test split through the test pipeline and the config's evaluator
    (In-Shop: ``is_query`` reaches the metric)."""
    keys = ('train_dataloader', 'val_dataloader', 'test_dataloader',
            'val_evaluator', 'test_evaluator', 'data_preprocessor')
    names = [metrix_paper_name(loss, level, ds)
             for loss in METRIX_LOSSES for level in METRIX_LEVELS]
    if ds == 'cub':
        names.append(metrix_paper_name('contrastive', '-metrix', ds, True))
    cfgs = [metrix_cfg(name) for name in names]
    for cfg in cfgs[1:]:
        for key in keys:
            assert cfg[key] == cfgs[0][key], key
    cfg, spec = cfgs[0], METRIX_DATASETS[ds]
    root = write_metrix_archive(ds, str(tmp_path / ds))

    def loader(key, batch_size):
        loader_cfg = copy.deepcopy(cfg[key])
        loader_cfg.update(batch_size=batch_size, num_workers=0,
                          persistent_workers=False)
        loader_cfg.dataset.data_root = root
        if loader_cfg.sampler.type == 'ClassBalancedSampler':
            loader_cfg.sampler.batch_size = batch_size
        return MMMixRunner.build_dataloader(loader_cfg, seed=0)

    with DefaultScope.overwrite_default_scope('mmmix'):
        preprocessor = MODELS.build(cfg.data_preprocessor)
        batch = next(iter(loader('train_dataloader', 10)))
        data = preprocessor(batch, True)
        assert tuple(data['inputs'].shape) == (10, 3, 224, 224)
        labels = [int(s.gt_label) for s in data['data_samples']]
        assert set(labels) == {0, 1}  # remapped training classes
        if spec['balanced']:  # 2 classes x 5, class by class
            assert labels[:5] == [labels[0]] * 5
            assert labels[5:] == [labels[5]] * 5
        for key in ('val_dataloader', 'test_dataloader'):
            evaluator = key.replace('dataloader', 'evaluator')
            metric = METRICS.build(dict(cfg[evaluator], topk=(1, )))
            count, queries = 0, 0
            for batch in loader(key, 4):
                inputs = preprocessor(batch, False)['inputs']
                assert tuple(inputs.shape[1:]) == (3, 224, 224)
                samples = batch['data_samples']
                for sample in samples:  # label embeddings: perfect recall
                    sample.set_field(torch.nn.functional.one_hot(
                        sample.gt_label[0], 4).float(), 'embedding')
                    queries += bool(sample.metainfo.get('is_query'))
                metric.process(batch, [s.to_dict() for s in samples])
                count += len(samples)
            assert count == 6
            assert queries == (2 if ds == 'inshop' else 0)
            results = metric.evaluate(count)
            assert results['retrieval/R@1'] == 100
            assert results['retrieval/MAP@R'] == 100


METRIX_LOSS_RUNS = METRIX_FASHION + [
    osp.join(ROOT, 'configs', 'metrix',
             'proxyanchor-metrix_resnet50_1xb100-100e_cub.py')
]


@pytest.mark.parametrize(
    'path', METRIX_LOSS_RUNS, ids=[osp.basename(c) for c in METRIX_LOSS_RUNS])
def test_metrix_config_loss(path):
    """``model.loss`` in the config's mixing mode on 10 random images of 5
    classes x 2 (the ResNet-50 config at 64x64): finite clean and mixed
    losses, gradients down to the neck (and the proxies)."""
    cfg = _parse(path)
    model = build_metrix_model(cfg)
    model.train()
    torch.manual_seed(0)
    np.random.seed(0)
    size = 64 if 'resnet50' in osp.basename(path) else 28
    channels = len(preprocessor_cfg(cfg)['mean'])
    inputs = torch.randn(10, channels, size, size)
    samples = [DataSample().set_gt_label(i // 2) for i in range(10)]
    (mode, ) = model.mix_modes
    model.choose_mode = lambda device=None: mode
    losses = model.loss(inputs, samples)
    names = {k for k in losses if 'loss' in k}
    if mode['level'] == 'none':
        assert names == {'loss_clean'}
    else:
        assert names == {'loss_clean', 'loss_mix'}
        assert losses['loss_mix'] > 0 and losses['mix_mixed'] > 0
    for name, value in losses.items():
        assert torch.isfinite(value).all(), name
    sum(losses[k] for k in names).backward()
    grads = [model.neck.fc.weight.grad]
    if hasattr(model.loss_module.loss, 'proxies'):
        grads.append(model.loss_module.loss.proxies.grad)
    for grad in grads:
        assert grad is not None and torch.isfinite(grad).all()
        assert grad.abs().sum() > 0
