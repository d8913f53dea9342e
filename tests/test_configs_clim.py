"""The ImageNet CLIM configs (``configs/clim``; spec clim.md §4-6, U9, U11).

No ImageNet here and no 16 GPUs: these tests check that every paper-scale
config parses and carries the paper's values (the headline recipe, and the
ablation value each file name announces), that the full set of ablation
files exists, that one ResNet-50 model per model type builds from its
config and gives a finite CLIM loss on random 64 px images, that the view
and selection pipelines give the right images, and that the evaluation
configs (linear probe, 1% / 10% fine-tuning) have the protocol's schedule,
learning rates and subset. The Fashion-MNIST CLIM configs are built and run
by ``tests/test_configs.py``.
"""
import copy
import glob
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope

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

CLIM_DIR = osp.join(ROOT, 'configs', 'clim')
MOCO_TAIL = '_mocov2_resnet50_16xb32-coslr-{}e_in1k.py'
#: ``clim[-variant]_mocov2_resnet50_16xb32-coslr-{epochs}e_in1k.py``
MOCO_NAME = re.compile(
    r'^clim(?:-(?:'
    r'(?P<mode>random|knn|kmeans|center-wise)(?P<nomix>-nomix)?'
    r'|m(?P<m>\d+)-k(?P<k>\d+)'
    r'|alpha(?P<alpha>\d+\.\d+)'
    r'|r(?P<r0>\d+)-(?P<r1>\d+)'
    r'))?_mocov2_resnet50_16xb32-coslr-(?P<epochs>\d+)e_in1k\.py$')
SIMSIAM = 'clim_simsiam_resnet50_8xb32-coslr-100e_in1k.py'
BYOL = 'clim_byol_resnet50_16xb256-coslr-200e_in1k.py'
LATENT = {
    SIMSIAM: ('simsiam/simsiam_resnet50_8xb32-coslr-100e_in1k.py',
              'mmmix.CLIMSimSiam'),
    BYOL: ('byol/byol_resnet50_16xb256-coslr-200e_in1k.py',
           'mmmix.CLIMBYOL'),
}
BENCH = {
    'linear': 'benchmarks/resnet50_8xb32-linear-steplr-100e_in1k.py',
    '1': 'benchmarks/resnet50_8xb32-semi-1pct-steplr-60e_in1k.py',
    '10': 'benchmarks/resnet50_8xb32-semi-10pct-steplr-60e_in1k.py',
}


def _moco_names():
    """Every MoCo v2 + CLIM ImageNet config the paper's tables need."""
    names = {'clim' + MOCO_TAIL.format(e) for e in (200, 800, 1200)}
    tail = MOCO_TAIL.format(200)
    for mode in ('random', 'knn', 'kmeans', 'center-wise'):  # Table 6
        names |= {f'clim-{mode}{tail}', f'clim-{mode}-nomix{tail}'}
    names |= {f'clim-r224-{r}{tail}' for r in (96, 128, 224)}  # Table 7
    names |= {f'clim-m{m}-k{k}{tail}'  # Table 8
              for m in (5000, 10000, 20000) for k in (20, 40, 60)}
    names |= {f'clim-alpha{a}{tail}' for a in (1.0, 1.5, 2.5)}  # Table 9
    return names


MOCO_NAMES = sorted(_moco_names())


def expected(name):
    """The spec's values for a MoCo v2 + CLIM config, from its file name."""
    match = MOCO_NAME.match(name)
    assert match, f'{name} does not follow the naming scheme'
    g = match.groupdict()
    exp = dict(epochs=int(g['epochs']), scales=(224, 160), alpha=2.0,
               mix=True, mode='center_wise', m=10000, k=40)
    if g['mode'] or g['m'] or g['alpha']:  # Tables 6, 8, 9: single res
        exp['scales'] = (224, )
    if g['mode']:
        exp.update(mode=g['mode'].replace('-', '_'), mix=not g['nomix'])
        if g['mode'] == 'knn':
            exp['k'] = 10  # the 10 nearest neighbours
    if g['m']:
        exp.update(m=int(g['m']), k=int(g['k']))
    if g['alpha']:
        exp['alpha'] = float(g['alpha'])
    if g['r0']:
        exp['scales'] = (int(g['r0']), int(g['r1']))
    return exp


def load(name):
    """A private copy of a configs/clim config (parsed once)."""
    return load_config(osp.join(CLIM_DIR, name))


#: MoCo v2's photometric ops (mmpretrain's view pipeline without its crop
#: and flip, which MultiResolutionViews does)
MOCO_PHOTOMETRIC = [
    t for t in strip_scope(mmpretrain_cfg(
        'mocov2/mocov2_resnet50_8xb32-coslr-200e_in1k.py').view_pipeline)
    if t['type'] not in ('RandomResizedCrop', 'RandomFlip')
]
SELECTION_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


def check_clim_data(cfg, scales, crop=(0.2, 1.)):
    """The wrapped ImageNet train set, its views and CLIMHook's loader."""
    dataset = cfg.train_dataloader.dataset
    assert (dataset.type, dataset.pool_size) == ('mmmix.CLIMPairDataset', 10)
    inner = dataset.dataset
    assert (inner.type, inner.data_root, inner.split) == (
        'ImageNet', 'data/imagenet/', 'train')
    load_img, views, pack = inner.pipeline
    assert load_img == dict(type='LoadImageFromFile')
    assert pack.type == 'PackInputs'
    assert views.type == 'mmmix.MultiResolutionViews'
    assert tuple(views.scales) == tuple(scales)
    assert (views.num_views, tuple(views.crop_ratio_range),
            views.flip_prob) == (2, crop, 0.5)
    assert cfg.model.num_resolutions == len(scales)
    assert cfg.train_dataloader.collate_fn.type == 'default_collate'
    assert cfg.train_dataloader.sampler == dict(
        type='DefaultSampler', shuffle=True, _scope_='mmpretrain')

    hooks = [h for h in cfg.custom_hooks if h.type == 'mmmix.CLIMHook']
    assert len(hooks) == 1
    loader = hooks[0].dataloader
    assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
    assert (loader.dataset.type, loader.dataset.data_root,
            loader.dataset.split) == ('ImageNet', inner.data_root, 'train')
    assert 'indices' not in loader.dataset and 'indices' not in inner
    assert loader.dataset.pipeline == SELECTION_PIPELINE
    return views, hooks[0]


# ------------------------------------------------------------ file names --
def test_moco_configs_complete():
    found = {osp.basename(c) for c in glob.glob(
        osp.join(CLIM_DIR, 'clim*_mocov2_resnet50*.py'))}
    assert len(MOCO_NAMES) == 26
    assert found == set(MOCO_NAMES)
    for name in found:
        expected(name)  # parses


def test_no_unknown_paper_configs():
    """Every ImageNet config in configs/clim is one the tests know."""
    known = set(MOCO_NAMES) | set(LATENT) | set(BENCH.values())
    # k-NN and the SimSiam / BYOL linear probe: tests/test_configs_ssl_eval.py
    known |= {'benchmarks/resnet50_knn-k20_in1k.py',
              'benchmarks/resnet50_8xb512-linear-coslr-90e_in1k.py'}
    found = {osp.relpath(c, CLIM_DIR) for c in glob.glob(
        osp.join(CLIM_DIR, '**', '*.py'), recursive=True)
        if '_base_' not in c and 'fashionmnist' not in c}
    assert found == known


def test_expected_values_from_names():
    tail = MOCO_TAIL.format(200)
    assert expected('clim-knn-nomix' + tail) == dict(
        epochs=200, scales=(224, ), alpha=2.0, mix=False, mode='knn',
        m=10000, k=10)
    assert expected('clim-m5000-k60' + tail) == dict(
        epochs=200, scales=(224, ), alpha=2.0, mix=True,
        mode='center_wise', m=5000, k=60)
    assert expected('clim-r224-96' + tail)['scales'] == (224, 96)
    assert expected('clim' + MOCO_TAIL.format(1200))['scales'] == (224, 160)
    with pytest.raises(AssertionError):
        expected('clim-knnn' + tail)


# --------------------------------------------------------- MoCo configs --
@pytest.mark.parametrize('name', MOCO_NAMES)
def test_moco_config_values(name):
    exp = expected(name)
    cfg = load(name)
    assert cfg.default_scope == 'mmmix'
    assert 'mmmix' in cfg.custom_imports.imports

    model = cfg.model
    assert model.type == 'mmmix.CLIMMoCo'
    assert (model.queue_len, model.feat_dim, model.momentum) == (65536, 128,
                                                                 0.001)
    assert (model.backbone.type, model.backbone.depth) == ('ResNet', 50)
    assert (model.neck.type, model.neck.in_channels, model.neck.hid_channels,
            model.neck.out_channels) == ('MoCoV2Neck', 2048, 2048, 128)
    assert model.head.type == 'mmmix.MixedContrastiveHead'
    assert model.head.temperature == 0.2
    assert model.head.loss == dict(type='CrossEntropyLoss')
    assert (model.alpha, model.mix) == (exp['alpha'], exp['mix'])
    assert (model.mix_prob, model.per_batch, model.use_inst_loss,
            model.inst_weight, model.mix_weight) == (1.0, False, True, 1., 1.)
    assert (model.resolution_pairs, model.pair_reduction,
            model.enqueue) == ('all', 'mean', 'anchor_base')

    # batch 512 = 16 x 32, SGD lr 0.06 = 0.03 x 512 / 256, cosine, no warm-up
    assert cfg.train_dataloader.batch_size == 32
    assert cfg.auto_scale_lr == dict(base_batch_size=512)
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 0.06, 0.9, 1e-4)
    assert optimizer.lr == pytest.approx(0.03 * 16 * 32 / 256)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    epochs = exp['epochs']
    assert cfg.param_scheduler == [
        dict(type='CosineAnnealingLR', T_max=epochs, by_epoch=True, begin=0,
             end=epochs)]
    assert cfg.train_cfg.max_epochs == epochs

    views, hook = check_clim_data(cfg, exp['scales'])
    assert strip_scope(views.transforms) == MOCO_PHOTOMETRIC
    assert (views.interpolation, views.backend) == ('bilinear', 'pillow')
    assert (hook.interval, hook.start_epoch, hook.pool_size) == (5, 0, 10)
    assert (hook.mode, hook.num_clusters, hook.num_neighbors) == (
        exp['mode'], exp['m'], exp['k'])
    assert [h.type for h in cfg.custom_hooks] == ['mmmix.CLIMHook']


# ---------------------------------------------- SimSiam / BYOL (mmmix) --
@pytest.mark.parametrize('name', sorted(LATENT))
def test_latent_config_values(name):
    base_path, model_type = LATENT[name]
    cfg, base = load(name), mmpretrain_cfg(base_path)
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type == model_type
    assert cfg.model.head.type == 'mmmix.MixedLatentPredictHead'
    # the base method's network, predictor, loss, optimiser and schedule
    for key in ('backbone', 'neck'):
        assert strip_scope(cfg.model[key]) == strip_scope(base.model[key])
    for key in ('predictor', 'loss'):
        assert strip_scope(cfg.model.head[key]) == strip_scope(
            base.model.head[key])
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'auto_scale_lr'):
        assert strip_scope(cfg.get(key)) == strip_scope(base.get(key)), key
    assert cfg.train_dataloader.batch_size == \
        base.train_dataloader.batch_size
    assert (cfg.model.alpha, cfg.model.mix, cfg.model.use_inst_loss) == (
        2.0, True, True)
    views, hook = check_clim_data(
        cfg, (224, 160), crop=(0.08, 1.) if name == BYOL else (0.2, 1.))
    if name == SIMSIAM:
        assert strip_scope(views.transforms) == MOCO_PHOTOMETRIC
        assert [h.type for h in cfg.custom_hooks] == [
            'SimSiamHook', 'mmmix.CLIMHook']
        assert cfg.custom_hooks[0].lr == base.lr
    if name == BYOL:  # BYOL's two asymmetric pipelines, one per view
        multiview = [t for t in base.train_dataloader.dataset.pipeline
                     if t.type == 'MultiView'][0]
        geometric = ('RandomResizedCrop', 'RandomFlip')
        expected = [[t for t in strip_scope(pipe)
                     if t['type'] not in geometric]
                    for pipe in multiview.transforms]
        assert strip_scope(views.transforms) == expected
    assert (hook.interval, hook.start_epoch, hook.mode, hook.num_clusters,
            hook.num_neighbors, hook.pool_size) == (5, 0, 'center_wise',
                                                    10000, 40, 10)


# --------------------------------------------------------------- models --
def fake_views(num_resolutions, scales, batch=2, seed=0):
    """Random uint8 views as ``default_collate`` gives them: anchor then
    positive, each 2 views x R resolutions, view-major, at 64 px."""
    g = torch.Generator().manual_seed(seed)
    sizes = [max(16, 64 * s // 224) for s in scales]
    return [
        torch.randint(0, 256, (batch, 3, size, size), generator=g,
                      dtype=torch.uint8)
        for _ in range(2)  # anchor, positive
        for _ in range(2)  # views
        for size in sizes
    ]


@pytest.mark.parametrize('name', [
    'clim' + MOCO_TAIL.format(1200), SIMSIAM, BYOL])
def test_model_loss_forward(name):
    """One ResNet-50 CLIM model per type builds from its config and gives
    finite losses on 2 random images (2 views x R resolutions x anchor and
    positive each)."""
    cfg = load(name)
    scales = cfg.train_dataloader.dataset.dataset.pipeline[1].scales
    model = build_model_from_cfg(cfg)
    assert type(model).__name__ == cfg.model.type.split('.')[-1]
    assert type(model.head).__name__ == cfg.model.head.type.split('.')[-1]
    assert model.num_resolutions == len(scales) == 2
    model.train()
    data = dict(inputs=fake_views(len(scales), scales), data_samples=None)
    with torch.no_grad():
        data = model.data_preprocessor(data, True)
        assert len(data['inputs']) == 2 * 2 * len(scales)
        losses = model(**data, mode='loss')
    assert set(losses) == {'loss_inst', 'loss_mix'}
    for key, value in losses.items():
        assert value.dim() == 0 and torch.isfinite(value), (key, value)


# ------------------------------------------------------------ pipelines --
def _build(pipeline):
    with DefaultScope.overwrite_default_scope('mmmix'):
        return [TRANSFORMS.build(copy.deepcopy(t)) for t in pipeline]


def _run(transforms, results):
    """``transforms`` on a results dict, or on an image (a raw sample)."""
    if isinstance(results, np.ndarray):
        results = dict(img=results, img_shape=results.shape[:2],
                       ori_shape=results.shape[:2], sample_idx=0)
    for t in transforms:
        results = t(results)
        assert results is not None
    return results


PAPER_PRETRAIN = MOCO_NAMES + sorted(LATENT)


def _pipeline_cases():
    """The distinct (train pipeline, scales) of the pretraining configs."""
    cases = {}
    for name in PAPER_PRETRAIN:
        pipeline = load(name).train_dataloader.dataset.dataset.pipeline
        cases.setdefault(repr(pipeline), (name, pipeline))
    return sorted(cases.values(), key=lambda c: c[0])


@pytest.fixture(scope='module')
def raw_image():
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)


@pytest.mark.parametrize('name,pipeline', _pipeline_cases(),
                         ids=lambda v: v if isinstance(v, str) else '')
def test_train_pipeline(name, pipeline, raw_image):
    """MultiResolutionViews + PackInputs on one 300x400 image give 2 x R
    views of the right sizes, view-major."""
    assert pipeline[0]['type'] == 'LoadImageFromFile'
    scales = tuple(pipeline[1]['scales'])
    transforms = _build(pipeline[1:])
    views = _run(transforms[:1], raw_image.copy())
    r = len(scales)
    # the resolution copies of a view share the crop and the flip
    for key in ('crop_boxes', 'flips'):
        assert all(views[key][v * r] == views[key][v * r + i]
                   for v in range(2) for i in range(r)), key
    inputs = _run(transforms[1:], views)['inputs']
    assert isinstance(inputs, list) and len(inputs) == 2 * r
    sizes = [tuple(x.shape) for x in inputs]
    assert sizes == [(3, s, s) for _ in range(2) for s in scales], name
    assert all(x.dtype == torch.uint8 for x in inputs)


def test_selection_pipeline(raw_image):
    """CLIMHook's loader (Resize 256 short side + CenterCrop 224) gives one
    224x224 image; the hooks of every paper config build."""
    pipelines = set()
    for name in PAPER_PRETRAIN:
        cfg = load(name)
        with DefaultScope.overwrite_default_scope('mmmix'):
            for hook in copy.deepcopy(cfg.custom_hooks):
                hook.pop('priority', None)  # the runner's, not the hook's
                HOOKS.build(hook)
        for hook in cfg.custom_hooks:
            if hook.type == 'mmmix.CLIMHook':
                pipelines.add(repr(hook.dataloader.dataset.pipeline))
    assert pipelines == {repr(SELECTION_PIPELINE)}
    out = _run(_build(SELECTION_PIPELINE[1:]), raw_image.copy())
    assert tuple(out['inputs'].shape) == (3, 224, 224)


# ----------------------------------------------------------- benchmarks --
def _check_eval_data(cfg):
    assert cfg.train_dataloader.batch_size == 32  # x 8 GPUs = 256
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip', 'PackInputs']
    assert cfg.train_dataloader.dataset.pipeline[1].scale == 224
    for key in ('val_dataloader', 'test_dataloader'):
        pipeline = strip_scope(cfg[key].dataset.pipeline)
        assert pipeline[1:3] == [
            dict(type='ResizeEdge', scale=256, edge='short',
                 backend='pillow'),
            dict(type='CenterCrop', crop_size=224)]
        assert cfg[key].dataset.split == 'val'
    init = cfg.model.backbone.init_cfg
    assert (init.type, init.prefix) == ('Pretrained', 'backbone.')
    assert init.checkpoint.startswith('work_dirs/clim_mocov2_resnet50')
    assert cfg.auto_scale_lr == dict(base_batch_size=256)


def test_linear_config():
    cfg = load(BENCH['linear'])
    _check_eval_data(cfg)
    assert cfg.model.backbone.frozen_stages == 4
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 30., 0.9, 0.)
    assert 'paramwise_cfg' not in cfg.optim_wrapper
    assert strip_scope(cfg.param_scheduler) == [
        dict(type='MultiStepLR', by_epoch=True, milestones=[60, 80],
             gamma=0.1)]
    assert cfg.train_cfg.max_epochs == 100
    assert 'ann_file' not in cfg.train_dataloader.dataset  # all labels


@pytest.fixture(scope='module')
def classifier():
    """The fine-tuning configs' ResNet-50 classifier (no checkpoint)."""
    cfg = load(BENCH['1'])
    cfg.model.backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope('mmmix'):
        return MODELS.build(cfg.model)


@pytest.mark.filterwarnings('ignore:Detected call of')
@pytest.mark.parametrize('pct', ['1', '10'])
def test_semi_supervised_config(pct, classifier):
    cfg = load(BENCH[pct])
    _check_eval_data(cfg)
    assert cfg.train_dataloader.dataset.ann_file == f'meta/{pct}percent.txt'
    assert cfg.train_dataloader.dataset.split == 'train'
    assert cfg.model.backbone.frozen_stages == -1  # all layers
    optimizer = cfg.optim_wrapper.optimizer
    assert (optimizer.type, optimizer.lr, optimizer.momentum,
            optimizer.weight_decay) == ('SGD', 1e-4, 0.9, 0.)
    assert cfg.optim_wrapper.paramwise_cfg == dict(
        custom_keys={'head': dict(lr_mult=1e5)})
    assert strip_scope(cfg.param_scheduler) == [
        dict(type='MultiStepLR', by_epoch=True, milestones=[20, 40],
             gamma=0.1)]
    assert cfg.train_cfg.max_epochs == 60

    # the param groups: backbone 1e-4, the new fc layer 10
    wrapper = build_optim_wrapper(classifier,
                                  copy.deepcopy(cfg.optim_wrapper))
    lrs = {}
    for group in wrapper.optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = group['lr']
    for pname, p in classifier.named_parameters():
        want = 10. if pname.startswith('head.') else 1e-4
        assert lrs[id(p)] == pytest.approx(want), pname
    assert any(n.startswith('head.fc') for n, _ in
               classifier.named_parameters())
    schedulers = [PARAM_SCHEDULERS.build(
        copy.deepcopy(s), default_args=dict(optimizer=wrapper,
                                            epoch_length=1))
        for s in cfg.param_scheduler]
    for _ in range(40):
        for s in schedulers:
            s.step()
    head_lr = max(g['lr'] for g in wrapper.optimizer.param_groups)
    assert head_lr == pytest.approx(10. * 0.01)  # x0.1 at 20 and 40


def test_semi_supervised_subset_is_read(tmp_path):
    """The 1% annotation file (``<wnid>/<file> <label>`` lines) selects
    exactly its images from data_root/train."""
    check_subset_annotation_read(load(BENCH['1']), tmp_path)


@pytest.mark.parametrize('name', [
    'clim' + MOCO_TAIL.format(1200), 'clim-knn' + MOCO_TAIL.format(200),
    BYOL])
def test_datasets_on_fake_imagenet(name, fake_imagenet):
    """The config's wrapped train set and CLIMHook's selection set, built as
    the runner builds them, on image files: an item holds the anchor's and
    the positive's 2 x R views; the selection images are 224x224, in order."""
    cfg = load(name)
    train = copy.deepcopy(cfg.train_dataloader.dataset)
    train.dataset.data_root = fake_imagenet
    hook = [h for h in cfg.custom_hooks if h.type == 'mmmix.CLIMHook'][0]
    select = copy.deepcopy(hook.dataloader.dataset)
    select.data_root = fake_imagenet
    scales = tuple(train.dataset.pipeline[1].scales)
    with DefaultScope.overwrite_default_scope('mmmix'):
        train_set = DATASETS.build(train)
        select_set = DATASETS.build(select)
    assert len(train_set) == len(select_set) == 4
    item = train_set[1]
    sizes = [tuple(x.shape) for x in item['inputs']]
    assert sizes == [(3, s, s) for _ in range(4) for s in scales]
    for i in range(4):
        out = select_set[i]
        assert tuple(out['inputs'].shape) == (3, 224, 224)
        assert out['data_samples'].sample_idx == i
