"""The evaluation configs of the generated-views methods:
``configs/lma/benchmarks`` (spec lma.md 4.1 linear probe, 4.2 k-NN
monitor, 4.5 / Table 10 semi-supervised fine-tuning, A20, A22) and
``configs/learned_views/benchmarks`` (spec assimilating_views.md 7: the
E-SSL CIFAR-10 probe, the SupContrast CIFAR-100 / TinyImageNet probe, 5-NN;
A22, A23).

No CIFAR / STL-10 / ImageNet / TinyImageNet here. The protocol values are
checked against numbers written out from the specs (table-driven), the
backbones and normalisations against the pretraining configs whose runs
the configs read, the pipelines on generated images of each dataset's raw
format; the backbone exported by ``extract_backbone.py`` from a checkpoint
of the pretraining model loads exactly into the probe, frozen (one probe
per pretraining model and backbone); the LMA
CIFAR-10 probe trains one iteration (and its k-NN twin evaluates) with
mmengine's runner on generated Fashion-MNIST-like data; the README's data
preparation snippets write what the configs read.
"""
import copy
import glob
import importlib.util
import json
import math
import os
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope

from mmmix.engine import build_model_from_cfg, build_runner
from mmmix.registry import DATASETS, MODELS, TRANSFORMS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT, load_config, parse_config, strip_scope

register_all_modules(init_default_scope=False)

LMA = osp.join(ROOT, 'configs', 'lma')
LV = osp.join(ROOT, 'configs', 'learned_views')

# ------------------------------------------------------ the spec values ---
#: spec lma.md 4.1: LARS, base lr 0.1 (lr = 0.1 x 4096 / 256), momentum
#: 0.9, weight decay 0, batch 4096, 90 epochs, cosine
LMA_LINEAR = dict(optimizer='LARS', lr=1.6, momentum=0.9, weight_decay=0.,
                  batch=4096, epochs=90, schedule='cosine', val_interval=1)
#: spec assimilating_views.md 7 [C]: E-SSL's CIFAR-10 evaluation
ESSL_LINEAR = dict(optimizer='SGD', lr=30., momentum=0.9, weight_decay=0.,
                   batch=256, epochs=100, schedule='cosine-iter',
                   val_interval=10)
#: spec assimilating_views.md 7 / A22: SupContrast's SimCLR probe
SUPCON_LINEAR = dict(optimizer='SGD', lr=1.0, momentum=0.9, weight_decay=0.,
                     batch=512, epochs=100, schedule='step-60-75-90x0.2',
                     val_interval=1)

#: every probe: its protocol, the pretraining config whose run it reads,
#: classes, the network input size, the train / test transforms
PROBES = {
    'lma/benchmarks/resnet18-cifar_1xb4096-linear-lars-coslr-90e_cifar10.py':
    dict(protocol=LMA_LINEAR, classes=10, size=32, raw=None,
         pretrain='lma/lma_simsiam_resnet18-cifar_1xb512-coslr-800e_'
         'cifar10.py',
         train=['RandomCrop', 'RandomFlip', 'PackInputs'],
         test=['PackInputs']),
    'lma/benchmarks/resnet18-cifar_1xb4096-linear-lars-coslr-90e_cifar100.py':
    dict(protocol=LMA_LINEAR, classes=100, size=32, raw=None,
         pretrain='lma/lma_simsiam_resnet18-cifar_1xb512-coslr-800e_'
         'cifar100.py',
         train=['RandomCrop', 'RandomFlip', 'PackInputs'],
         test=['PackInputs']),
    'lma/benchmarks/resnet18_1xb4096-linear-lars-coslr-90e_stl10.py':
    dict(protocol=LMA_LINEAR, classes=10, size=128, raw=(96, 96),
         pretrain='lma/lma_simsiam_resnet18_1xb512-coslr-800e_stl10.py',
         train=['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                'PackInputs'],
         test=['LoadImageFromFile', 'ResizeEdge', 'CenterCrop',
               'PackInputs']),
    'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in100.py':
    dict(protocol=LMA_LINEAR, classes=100, size=96, raw=(300, 400),
         pretrain='lma/lma_mocov2_resnet50_8xb32-coslr-200e_in100.py',
         train=['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                'PackInputs'],
         test=['LoadImageFromFile', 'ResizeEdge', 'CenterCrop',
               'PackInputs']),
    'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in1k.py':
    dict(protocol=LMA_LINEAR, classes=1000, size=224, raw=(300, 400),
         pretrain='lma/lma_simsiam_resnet50_8xb64-coslr-100e_in1k.py',
         train=['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                'PackInputs'],
         test=['LoadImageFromFile', 'ResizeEdge', 'CenterCrop',
               'PackInputs']),
    'learned_views/benchmarks/resnet18-cifar_1xb256-linear-coslr-100e_'
    'cifar10.py':
    dict(protocol=ESSL_LINEAR, classes=10, size=32, raw=None,
         pretrain='learned_views/a2-wsearch_simclr_resnet18-cifar_1xb128-'
         'coslr-800e_cifar10.py',
         train=['RandomResizedCrop', 'RandomFlip', 'PackInputs'],
         test=['ResizeEdge', 'CenterCrop', 'PackInputs']),
    'learned_views/benchmarks/resnet50-cifar_1xb512-linear-steplr-100e_'
    'cifar100.py':
    dict(protocol=SUPCON_LINEAR, classes=100, size=32, raw=None,
         pretrain='learned_views/a2-wperturb_simclr_resnet50-cifar_4xb128-'
         'coslr-1200e_cifar100.py',
         train=['RandomResizedCrop', 'RandomFlip', 'PackInputs'],
         test=['PackInputs']),
    'learned_views/benchmarks/resnet18-cifar_1xb512-linear-steplr-100e_'
    'tinyimagenet64.py':
    dict(protocol=SUPCON_LINEAR, classes=200, size=64, raw=(64, 64),
         pretrain='learned_views/a2-wsearch_simclr_resnet18-cifar_4xb128-'
         'coslr-1000e_tinyimagenet64.py',
         train=['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                'PackInputs'],
         test=['LoadImageFromFile', 'PackInputs']),
}
#: the k-NN configs: their probe, k (LMA 4.2: the monitor's 200; learned
#: views 7 / A23: the paper's 5), temperature 0.1 for both
KNN = {
    'lma/benchmarks/resnet18-cifar_knn-k200_cifar10.py': (
        'lma/benchmarks/resnet18-cifar_1xb4096-linear-lars-coslr-90e_'
        'cifar10.py', 200),
    'lma/benchmarks/resnet18-cifar_knn-k200_cifar100.py': (
        'lma/benchmarks/resnet18-cifar_1xb4096-linear-lars-coslr-90e_'
        'cifar100.py', 200),
    'lma/benchmarks/resnet18_knn-k200_stl10.py': (
        'lma/benchmarks/resnet18_1xb4096-linear-lars-coslr-90e_stl10.py',
        200),
    'lma/benchmarks/resnet50_knn-k200_in100.py': (
        'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in100.py', 200),
    'lma/benchmarks/resnet50_knn-k200_in1k.py': (
        'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in1k.py', 200),
    'learned_views/benchmarks/resnet18-cifar_knn-k5_cifar10.py': (
        'learned_views/benchmarks/resnet18-cifar_1xb256-linear-coslr-100e_'
        'cifar10.py', 5),
    'learned_views/benchmarks/resnet50-cifar_knn-k5_cifar100.py': (
        'learned_views/benchmarks/resnet50-cifar_1xb512-linear-steplr-100e_'
        'cifar100.py', 5),
    'learned_views/benchmarks/resnet18-cifar_knn-k5_tinyimagenet64.py': (
        'learned_views/benchmarks/resnet18-cifar_1xb512-linear-steplr-100e_'
        'tinyimagenet64.py', 5),
}
IN100 = 'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in100.py'
#: spec lma.md 4.5 (Table 10; SimCLR's fine-tuning [EXT]): percentage ->
#: (config, epochs); Nesterov SGD, momentum 0.9, no weight decay,
#: lr 0.05 x batch / 256, every layer trained
SEMI = {
    1: ('lma/benchmarks/resnet50_8xb32-semi-1pct-nesterov-coslr-60e_'
        'in100.py', 60),
    10: ('lma/benchmarks/resnet50_8xb32-semi-10pct-nesterov-coslr-30e_'
         'in100.py', 30),
}
ALL = sorted(set(PROBES) | set(KNN) | {c for c, _ in SEMI.values()})
#: the pooled backbone width
FEATURES = {('ResNet_CIFAR', 18): 512, ('ResNet_CIFAR', 50): 2048,
            ('ResNet', 18): 512, ('ResNet', 50): 2048}


def cfg_of(name):
    return parse_config(osp.join(ROOT, 'configs', name))


def copy_of(name):
    return load_config(osp.join(ROOT, 'configs', name))


def probe_of(name):
    """The ``PROBES`` row of an evaluation config (k-NN: its probe's;
    semi-supervised: the ImageNet-100 probe's)."""
    if name in KNN:
        name = KNN[name][0]
    if name in (c for c, _ in SEMI.values()):
        name = IN100
    return PROBES[name]


def pretrain_of(name):
    """The pretraining config whose run an evaluation config reads."""
    return probe_of(name)['pretrain']


def unscoped(kind):
    return kind.split('.', 1)[-1]


def total_batch(name, cfg):
    """GPUs x per-GPU batch from the file name (``<g>xb<b>``), checked
    against the train loader."""
    gpus, per_gpu = map(int, re.search(r'_(\d+)xb(\d+)-', name).groups())
    assert cfg.train_dataloader.batch_size == per_gpu
    return gpus * per_gpu


def test_the_benchmark_sets_are_complete():
    found = {osp.relpath(f, osp.join(ROOT, 'configs'))
             for d in (LMA, LV)
             for f in glob.glob(osp.join(d, 'benchmarks', '*.py'))}
    assert found == set(ALL)
    # every linear / k-NN pair and the 1 % / 10 % pair exist for both
    # methods' datasets
    assert len(PROBES) == 8 and len(KNN) == 8 and len(SEMI) == 2


# -------------------------------------------------- common to all -------
@pytest.mark.parametrize('name', ALL)
def test_backbone_and_data_match_the_pretraining(name):
    """The probe's backbone is the pretraining's architecture, reads that
    run's exported backbone (no prefix: extract_backbone.py strips
    ``backbone.``), and normalises its input as the pretraining did."""
    cfg = cfg_of(name)
    pre = cfg_of(pretrain_of(name))
    assert cfg.custom_imports.imports == ['mmmix']
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type == 'ImageClassifier'
    bb, pre_bb = cfg.model.backbone, pre.model.backbone
    arch = (unscoped(bb.type), bb.depth)
    assert arch == (unscoped(pre_bb.type), pre_bb.depth)
    assert bb.get('in_channels', 3) == pre_bb.get('in_channels', 3)
    run = osp.splitext(osp.basename(pretrain_of(name)))[0]
    assert bb.init_cfg == dict(type='Pretrained',
                               checkpoint=f'work_dirs/{run}/backbone.pth')
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    head = cfg.model.head
    probe = probe_of(name)
    assert (head.type, head.in_channels, head.num_classes) == (
        'LinearClsHead', FEATURES[arch], probe['classes'])
    pre_dp, dp = pre.data_preprocessor, cfg.data_preprocessor
    assert dp.num_classes == probe['classes']
    assert (dp.mean, dp.std, dp.to_rgb) == (pre_dp.mean, pre_dp.std,
                                             pre_dp.to_rgb)
    # the network input scale is the pretraining's (spec lma.md 4.1 / A20
    # for STL-10 and ImageNet-100; the learned-views probes at the
    # dataset size)
    assert probe['size'] == pre.input_size


# ------------------------------------------------------- linear probes ---
@pytest.mark.parametrize('name', sorted(PROBES))
def test_linear_protocol(name):
    cfg = cfg_of(name)
    spec = PROBES[name]['protocol']
    bb = cfg.model.backbone
    # frozen: every stage and the stem, BN statistics in eval mode
    assert (bb.frozen_stages, bb.norm_eval) == (4, True)
    opt = cfg.optim_wrapper.optimizer
    assert unscoped(opt.type) == spec['optimizer']
    assert opt.lr == pytest.approx(spec['lr'])
    assert (opt.momentum, opt.weight_decay) == (spec['momentum'],
                                                spec['weight_decay'])
    assert not opt.get('nesterov', False)
    batch = total_batch(name, cfg)
    assert batch == spec['batch'] == cfg.auto_scale_lr.base_batch_size
    if spec is LMA_LINEAR:  # lr = base 0.1 x batch / 256
        assert opt.lr == pytest.approx(0.1 * batch / 256)
    assert cfg.train_cfg.max_epochs == spec['epochs']
    assert cfg.train_cfg.val_interval == spec['val_interval']
    (sched, ) = cfg.param_scheduler
    if spec['schedule'].startswith('cosine'):
        assert (sched.type, sched.T_max, sched.eta_min, sched.by_epoch,
                sched.begin, sched.end) == ('CosineAnnealingLR',
                                            spec['epochs'], 0., True, 0,
                                            spec['epochs'])
        per_iter = sched.get('convert_to_iter_based', False)
        assert per_iter == (spec['schedule'] == 'cosine-iter')
    else:
        assert (sched.type, list(sched.milestones), sched.gamma,
                sched.by_epoch) == ('MultiStepLR', [60, 75, 90], 0.2, True)
    assert cfg.train_dataloader.sampler.shuffle
    assert not cfg.val_dataloader.sampler.shuffle
    assert cfg.val_evaluator == dict(type='Accuracy', topk=(1, 5))
    if spec is SUPCON_LINEAR:  # the paper reports the best epoch (A22)
        ckpt = cfg.default_hooks.checkpoint
        assert (ckpt.save_best, ckpt.rule) == ('accuracy/top1', 'greater')


def _transform(cfg_list, kind):
    (found, ) = [t for t in cfg_list if t['type'] == kind]
    return found


@pytest.mark.parametrize('name', sorted(PROBES))
def test_pipelines(name):
    """The transforms in order and their spec values."""
    probe = PROBES[name]
    cfg = cfg_of(name)
    train = cfg.train_dataloader.dataset.pipeline
    test = cfg.val_dataloader.dataset.pipeline
    assert [t['type'] for t in train] == probe['train']
    assert [t['type'] for t in test] == probe['test']
    assert cfg.test_dataloader == cfg.val_dataloader
    size = probe['size']
    assert _transform(train, 'RandomFlip')['prob'] == 0.5
    spec = probe['protocol']
    if spec is LMA_LINEAR and size == 32:  # spec 4.1 [REC] CIFAR
        crop = _transform(train, 'RandomCrop')
        assert (crop['crop_size'], crop['padding']) == (32, 4)
    elif spec is ESSL_LINEAR:  # RandomResizedCrop(32, bicubic) defaults
        crop = _transform(train, 'RandomResizedCrop')
        assert (crop['scale'], crop['interpolation']) == (32, 'bicubic')
        assert 'crop_ratio_range' not in crop  # torchvision's (0.08, 1)
        resize = _transform(test, 'ResizeEdge')
        assert (resize['scale'], resize['edge'],
                resize['interpolation']) == (36, 'short', 'bicubic')
        assert _transform(test, 'CenterCrop')['crop_size'] == 32
    elif spec is SUPCON_LINEAR:  # main_linear.py's set_loader
        crop = _transform(train, 'RandomResizedCrop')
        assert crop['scale'] == size
        assert tuple(crop['crop_ratio_range']) == (0.2, 1.)
    else:  # file datasets: RandomResizedCrop + flip, resize + centre crop
        assert _transform(train, 'RandomResizedCrop')['scale'] == size
        assert 'crop_ratio_range' not in _transform(train,
                                                    'RandomResizedCrop')
        assert _transform(test, 'CenterCrop')['crop_size'] == size
        resize = _transform(test, 'ResizeEdge')['scale']
        # ImageNet's 256 / 224 (spec 4.1 [REC]) at IN-100's 96 px; the
        # STL-10 images are resized to the input scale
        expect = {224: 256, 96: 110, 128: 128}[size]
        assert resize == expect
        if size == 96:
            assert 96 / 110 == pytest.approx(224 / 256, abs=0.003)


def _run_pipeline(pipeline, tmp_path, raw):
    """``inputs`` shape of ``pipeline`` on one generated image (an RGB
    array for CIFAR-style datasets, else a PNG file of ``raw`` size)."""
    rng = np.random.default_rng(0)
    if raw is None:
        results = dict(img=rng.integers(0, 256, (32, 32, 3), np.uint8))
    else:
        path = str(tmp_path / 'raw.png')
        assert cv2.imwrite(path, rng.integers(0, 256, raw + (3, ),
                                              np.uint8))
        results = dict(img_path=path)
    results.update(gt_label=0, sample_idx=0)
    with DefaultScope.overwrite_default_scope('mmmix'):
        for t in pipeline:
            results = TRANSFORMS.build(t)(results)
    return tuple(results['inputs'].shape)


@pytest.mark.parametrize('name', sorted(PROBES))
def test_pipelines_give_the_input_size(name, tmp_path):
    probe = PROBES[name]
    cfg = cfg_of(name)
    expect = (3, probe['size'], probe['size'])
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        assert _run_pipeline(loader.dataset.pipeline, tmp_path,
                             probe['raw']) == expect


# --------------------------------------------------------------- k-NN ---
@pytest.mark.parametrize('name', sorted(KNN))
def test_knn_protocol(name):
    """0 training epochs, the hook's bank = the labelled training set and
    queries = the probe's test set, both with the probe's test pipeline,
    the spec's k and temperature; the model is the probe's."""
    linear_name, k = KNN[name]
    cfg, linear = cfg_of(name), cfg_of(linear_name)
    assert cfg.train_cfg.max_epochs == 0 and cfg.param_scheduler == []
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader'):
        assert cfg[key] is None, key
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'mmmix.KNNEvalHook'
    assert k in hook.num_neighbors and 200 in hook.num_neighbors
    assert hook.temperature == 0.1 and tuple(hook.topk) == (1, 5)
    bank, query = hook.bank_dataloader, hook.query_dataloader
    assert not bank.sampler.shuffle and not query.sampler.shuffle
    test_pipeline = linear.val_dataloader.dataset.pipeline
    assert bank.dataset == dict(linear.train_dataloader.dataset,
                                pipeline=test_pipeline)
    assert query.dataset == linear.val_dataloader.dataset
    assert strip_scope(cfg.model.to_dict()) == strip_scope(
        linear.model.to_dict())
    assert cfg.data_preprocessor == linear.data_preprocessor


# ------------------------------------------------- semi-supervised ------
@pytest.mark.parametrize('pct', sorted(SEMI))
def test_semi_protocol(pct):
    name, epochs = SEMI[pct]
    cfg, linear = cfg_of(name), cfg_of(IN100)
    bb = cfg.model.backbone
    assert (bb.frozen_stages, bb.norm_eval) == (-1, False)  # fine-tune all
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.nesterov, opt.weight_decay) == (
        'SGD', 0.9, True, 0.)
    assert 'paramwise_cfg' not in cfg.optim_wrapper  # one lr for all
    batch = total_batch(name, cfg)
    assert opt.lr == pytest.approx(0.05 * batch / 256)
    assert cfg.auto_scale_lr.base_batch_size == batch
    assert cfg.train_cfg.max_epochs == epochs
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.T_max, sched.eta_min, sched.end) == (
        'CosineAnnealingLR', epochs, 0., epochs)
    train = cfg.train_dataloader.dataset
    assert train.ann_file == f'meta/imagenet100_{pct}percent.txt'
    assert dict(train, ann_file=None) == dict(linear.train_dataloader.dataset,
                                              ann_file=None)
    # evaluated on the whole IN-100 validation set, as the probe
    assert cfg.val_dataloader.dataset == linear.val_dataloader.dataset


# --------------------------------------------------- weights and runs ---
def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name.replace('/', '_'), osp.join(ROOT, 'tools', name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def export_backbone(pretrain, tmp_path, seed=0):
    """``(backbone.pth, online backbone state)``: a checkpoint of the
    pretraining config's model with perturbed weights (the online network
    and, where the model has one, a different momentum encoder), exported
    as the READMEs say."""
    cfg = copy_of(pretrain)
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = MODELS.build(cfg.model)
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if value.is_floating_point():
            noise = torch.rand(value.shape, generator=gen)
            value = value * (1 + 0.1 * noise) + 0.01 * noise
        state[key] = value
    online = {k[len('backbone.'):]: v for k, v in state.items()
              if k.startswith('backbone.')}
    for key in state:  # a momentum encoder must not be the one exported
        if not key.startswith('backbone.') and key.endswith(
                'conv1.weight') and state[key].dim() == 4:
            state[key] = state[key] + 1
    src = str(tmp_path / 'epoch_1.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), src)
    out = str(tmp_path / 'backbone.pth')
    load_tool('model_converters/extract_backbone.py').main(
        [src, out, '--arch', 'resnet'])
    return out, online


def build_probe(cfg, checkpoint):
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = build_model_from_cfg(cfg).cpu()
    model.init_weights()
    return model


C10 = 'lma/benchmarks/resnet18-cifar_1xb4096-linear-lars-coslr-90e_cifar10.py'
C10_KNN = 'lma/benchmarks/resnet18-cifar_knn-k200_cifar10.py'
#: one probe per (pretraining model, backbone) pair; the others read the
#: same keys (CIFAR-100 / CIFAR-10 SimSiam, ImageNet-1k SimSiam / IN-100
#: MoCo v2 ResNet-50, CIFAR-10 / TinyImageNet A2SimCLR CIFAR ResNet-18)
LOADS = [
    C10,  # SimSiam, CIFAR ResNet-18
    'lma/benchmarks/resnet18_1xb4096-linear-lars-coslr-90e_stl10.py',
    'lma/benchmarks/resnet50_8xb512-linear-lars-coslr-90e_in100.py',  # MoCo
    'learned_views/benchmarks/resnet50-cifar_1xb512-linear-steplr-100e_'
    'cifar100.py',  # A2SimCLR, CIFAR ResNet-50 (SyncBN in pretraining)
    'learned_views/benchmarks/resnet18-cifar_1xb512-linear-steplr-100e_'
    'tinyimagenet64.py',
]


@pytest.fixture(scope='module')
def c10_backbone(tmp_path_factory):
    return export_backbone(PROBES[C10]['pretrain'],
                           tmp_path_factory.mktemp('c10_ckpt'))


@pytest.mark.parametrize('name', LOADS)
def test_exported_backbone_loads_frozen(name, tmp_path, request):
    """extract_backbone.py on a checkpoint of the pretraining model gives
    exactly the online backbone to the probe, every key, all frozen."""
    if name == C10:
        ckpt, online = request.getfixturevalue('c10_backbone')
    else:
        ckpt, online = export_backbone(PROBES[name]['pretrain'], tmp_path)
    model = build_probe(copy_of(name), ckpt)
    state = model.backbone.state_dict()
    assert set(state) == set(online)
    for key, value in online.items():
        assert torch.equal(state[key], value), key
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def on_fashion_like(cfg, fashion_root, ckpt, work_dir, n=8):
    """``cfg`` on the generated Fashion-MNIST-like images (28 x 28 grey,
    ``n`` per split; the 3-channel mean / std of the data preprocessor
    broadcast the grey channel to RGB), one batch per epoch, no workers."""
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    loaders = [cfg[k] for k in ('train_dataloader', 'val_dataloader')
               if cfg.get(k)]
    loaders += [h[k] for h in cfg.get('custom_hooks') or []
                for k in ('bank_dataloader', 'query_dataloader')]
    for loader in loaders:
        split = 'train' if loader.dataset.split == 'train' else 'test'
        loader.dataset = dict(type='mmmix.FashionMNIST',
                              data_root=fashion_root, split=split,
                              indices=n, pipeline=loader.dataset.pipeline)
        loader.update(batch_size=n, num_workers=0, persistent_workers=False,
                      pin_memory=False)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    return cfg


def test_linear_probe_trains_one_iteration(c10_backbone, fashion_root,
                                           tmp_path):
    """One LARS step of the CIFAR-10 probe with mmengine's runner: the
    loaded backbone and its BN statistics do not move, the classifier
    does, and the epoch's validation runs; the lr of the step is the
    spec's 1.6, then the cosine value of epoch 1 of 90."""
    ckpt, online = c10_backbone
    cfg = on_fashion_like(copy_of(C10), fashion_root, ckpt, tmp_path)
    cfg.train_cfg.max_epochs = 1
    runner = build_runner(cfg)
    seen = {}

    class Spy(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            seen['lr'] = runner.optim_wrapper.get_lr()['lr'][0]
            seen['head'] = runner.model.head.fc.weight.detach().clone()

    runner.register_hook(Spy())
    runner.train()
    assert runner.iter == 1
    model = runner.model
    state = model.backbone.state_dict()
    assert set(state) == set(online)
    for key, value in online.items():  # weights and BN running stats
        assert torch.equal(state[key], value), key
    head = model.head.fc.weight
    assert torch.isfinite(head).all()
    assert not torch.equal(head, seen['head'])  # the classifier learnt
    assert seen['lr'] == pytest.approx(1.6)
    after = runner.optim_wrapper.get_lr()['lr'][0]
    assert after == pytest.approx(1.6 * (1 + math.cos(math.pi / 90)) / 2)
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0 <= top1 <= 100


def test_knn_config_runs(c10_backbone, fashion_root, tmp_path):
    """The k-NN twin through the runner: no training step, one k-NN
    evaluation of the loaded backbone in knn_summary.json."""
    ckpt, online = c10_backbone
    cfg = on_fashion_like(copy_of(C10_KNN), fashion_root, ckpt, tmp_path)
    (hook, ) = cfg.custom_hooks
    hook.update(num_neighbors=(1, 5), topk=(1, ), progress=False)
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 0
    assert torch.equal(runner.model.backbone.conv1.weight,
                       online['conv1.weight'])
    with open(tmp_path / 'knn_summary.json') as f:
        trained = json.load(f)['trained']
    assert trained['epoch'] == 0
    assert 0 <= trained['top1_k5'] <= 100


# ------------------------------------------------ README data snippets ---
def readme_snippet(folder, marker):
    """The ```python block of ``folder``/README.md that contains
    ``marker``."""
    with open(osp.join(folder, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    blocks = [b for b in re.findall(r'```python\n(.*?)```', text, re.S)
              if marker in b]
    assert len(blocks) == 1, (folder, marker)
    return blocks[0]


def run_snippet(code, cwd, monkeypatch):
    monkeypatch.chdir(cwd)
    exec(compile(code, 'README snippet', 'exec'), {})


def build_dataset(dataset_cfg, data_root):
    dataset_cfg = dict(copy.deepcopy(dataset_cfg), data_root=str(data_root),
                       pipeline=[], lazy_init=False)
    dataset_cfg.pop('_scope_', None)
    with DefaultScope.overwrite_default_scope('mmmix'):
        return DATASETS.build(dataset_cfg)


def test_in100_lists_and_subsets(tmp_path, monkeypatch):
    """The README's ImageNet-100 snippets: the validation list keeps the
    100 classes' images with the training list's labels; the 1 % / 10 %
    subsets are class-balanced draws of the training list, nested and
    reproducible, and the semi-supervised configs read exactly them."""
    root = tmp_path / 'data' / 'imagenet'
    wnids = [f'n{i:08d}' for i in range(6)]  # a 6-class "ImageNet"
    chosen = {wnids[4]: 0, wnids[1]: 1}  # the "ImageNet-100" classes
    os.makedirs(root / 'meta')
    train_lines, sizes = [], {wnids[4]: 250, wnids[1]: 120}
    for wnid, label in chosen.items():
        os.makedirs(root / 'train' / wnid)
        for i in range(sizes[wnid]):
            rel = f'{wnid}/{wnid}_{i}.JPEG'
            (root / 'train' / rel).write_bytes(b'')
            train_lines.append(f'{rel} {label}')
    for wnid in wnids:  # the other classes' folders (label order)
        os.makedirs(root / 'train' / wnid, exist_ok=True)
    (root / 'meta' / 'imagenet100_train.txt').write_text(
        '\n'.join(train_lines) + '\n')
    val = [(f'ILSVRC2012_val_{i:08d}.JPEG', i % 6) for i in range(12)]
    (root / 'meta' / 'val.txt').write_text(
        ''.join(f'{n} {lab}\n' for n, lab in val))

    run_snippet(readme_snippet(LMA, 'imagenet100_val.txt'), tmp_path,
                monkeypatch)
    lines = (root / 'meta' / 'imagenet100_val.txt').read_text().split('\n')
    assert [ln for ln in lines if ln] == [
        f'{n} {chosen[wnids[lab]]}' for n, lab in val
        if wnids[lab] in chosen]

    code = readme_snippet(LMA, 'percent.txt')
    run_snippet(code, tmp_path, monkeypatch)
    subsets = {}
    for pct in (1, 10):
        text = (root / 'meta' / f'imagenet100_{pct}percent.txt').read_text()
        subsets[pct] = [ln for ln in text.split('\n') if ln]
        assert len(set(subsets[pct])) == len(subsets[pct])
        assert set(subsets[pct]) <= set(train_lines)
        for wnid, label in chosen.items():
            mine = [ln for ln in subsets[pct] if ln.startswith(wnid)]
            # class-balanced: pct % of each class (250 -> 2.5 -> 2 or 3)
            assert abs(len(mine) - sizes[wnid] * pct / 100) <= 0.5 + 1e-9
            assert all(ln.endswith(f' {label}') for ln in mine)
    assert set(subsets[1]) <= set(subsets[10])  # nested
    # a random draw, not the first images of each class
    firsts = set(train_lines[:25])  # class 0's first 10 %
    assert set(subsets[10]) & set(train_lines[:250]) != firsts
    run_snippet(code, tmp_path, monkeypatch)  # the fixed seed
    again = (root / 'meta' / 'imagenet100_10percent.txt').read_text()
    assert [ln for ln in again.split('\n') if ln] == subsets[10]

    for pct, (name, _) in SEMI.items():
        dataset = build_dataset(cfg_of(name).train_dataloader.dataset, root)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        assert [osp.relpath(i['img_path'], root / 'train')
                for i in infos] == [ln.split()[0] for ln in subsets[pct]]
        assert [int(i['gt_label']) for i in infos] == [
            int(ln.split()[1]) for ln in subsets[pct]]


def test_stl10_labelled_folders(tmp_path, monkeypatch):
    """The README's STL-10 snippet writes class folders whose sorted names
    give the release's labels (1-10 in the binary files) back."""
    src = tmp_path / 'stl10_binary'
    os.makedirs(src)
    rng = np.random.default_rng(0)
    labels = {}
    for split, n in (('train', 12), ('test', 7)):
        x = rng.integers(0, 256, (n, 3, 96, 96), np.uint8)
        y = (np.arange(n) % 10 + 1).astype(np.uint8)  # 1-based
        x.tofile(src / f'{split}_X.bin')
        y.tofile(src / f'{split}_y.bin')
        labels[split] = y - 1
    run_snippet(readme_snippet(LMA, '_y.bin'), tmp_path, monkeypatch)
    cfg = cfg_of('lma/benchmarks/resnet18_1xb4096-linear-lars-coslr-90e_'
                 'stl10.py')
    for split, dataset_cfg in (('train', cfg.train_dataloader.dataset),
                               ('test', cfg.val_dataloader.dataset)):
        dataset = build_dataset(dataset_cfg, tmp_path / 'data' / 'stl10')
        got = sorted((osp.basename(i['img_path']), int(i['gt_label']))
                     for i in (dataset.get_data_info(j)
                               for j in range(len(dataset))))
        assert [g for _, g in got] == list(labels[split])
        img = cv2.imread(dataset.get_data_info(0)['img_path'])
        assert img.shape == (96, 96, 3)


def test_tinyimagenet_val_list(tmp_path, monkeypatch):
    """The README's TinyImageNet snippet labels each validation image with
    the index its wnid has among the training folders (CustomDataset's
    label order)."""
    root = tmp_path / 'data' / 'tiny-imagenet-200'
    wnids = ['n02', 'n01', 'n03']
    for wnid in wnids:
        os.makedirs(root / 'train' / wnid / 'images')
        (root / 'train' / wnid / 'images' / f'{wnid}_0.JPEG').write_bytes(
            b'')
    os.makedirs(root / 'val' / 'images')
    ann = []
    for i, wnid in enumerate(wnids * 2):
        name = f'val_{i}.JPEG'
        (root / 'val' / 'images' / name).write_bytes(b'')
        ann.append(f'{name}\t{wnid}\t0\t0\t63\t63')
    (root / 'val' / 'val_annotations.txt').write_text('\n'.join(ann) + '\n')
    run_snippet(readme_snippet(LV, 'val_annotations.txt'), tmp_path,
                monkeypatch)
    name = ('learned_views/benchmarks/resnet18-cifar_1xb512-linear-steplr-'
            '100e_tinyimagenet64.py')
    cfg = cfg_of(name)
    train = build_dataset(cfg.train_dataloader.dataset, root)
    val = build_dataset(cfg.val_dataloader.dataset, root)
    label_of = {osp.basename(osp.dirname(osp.dirname(i['img_path']))):
                int(i['gt_label'])
                for i in (train.get_data_info(j) for j in range(len(train)))}
    assert sorted(label_of) == sorted(wnids)
    got = {osp.basename(i['img_path']): int(i['gt_label'])
           for i in (val.get_data_info(j) for j in range(len(val)))}
    assert got == {f'val_{i}.JPEG': label_of[w]
                   for i, w in enumerate(wnids * 2)}
