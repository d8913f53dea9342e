"""The ResNet-50 evaluation configs added for CLIM and InterCLR: weighted
k-NN on pool5 (``configs/clim/benchmarks/resnet50_knn-k20_in1k.py`` and
InterCLR's copy), the SimSiam / BYOL linear probe of the CLIM extensions
and MoCo's pool5 linear probe for InterCLR.

No ImageNet here: the configs parse and carry their protocol's values; a
fake pretraining checkpoint whose online backbone (``backbone.``) and
momentum encoder (``encoder_k.module.0.``, mmpretrain's MoCo) differ loads
the online one into each config's frozen ResNet-50; the k-NN config runs
through the runner on a generated ImageNet folder and writes its summary.
"""
import copy
import functools
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.models import ResNet

from mmmix.engine import build_model_from_cfg, build_runner
from mmmix.utils import register_all_modules
from tests.conftest import ROOT, pipeline_input_shapes, strip_scope

register_all_modules(init_default_scope=False)

CLIM = osp.join(ROOT, 'configs', 'clim', 'benchmarks')
INTERCLR = osp.join(ROOT, 'configs', 'interclr', 'benchmarks')
KNN = osp.join(CLIM, 'resnet50_knn-k20_in1k.py')
LARS = osp.join(CLIM, 'resnet50_8xb512-linear-coslr-90e_in1k.py')
POOL5_KNN = osp.join(INTERCLR, 'resnet50-pool5_knn-k20_in1k.py')
POOL5_LINEAR = osp.join(INTERCLR,
                        'resnet50-pool5_8xb32-linear-steplr-100e_in1k.py')
ALL = [KNN, LARS, POOL5_KNN, POOL5_LINEAR]
DEFAULT_CKPT = {
    KNN: 'work_dirs/clim_mocov2_resnet50_16xb32-coslr-1200e_in1k/'
    'epoch_1200.pth',
    LARS: 'work_dirs/clim_simsiam_resnet50_8xb32-coslr-100e_in1k/'
    'epoch_100.pth',
    POOL5_KNN: 'work_dirs/interclr-mocov2_resnet50_8xb32-coslr-200e_in1k/'
    'epoch_200.pth',
    POOL5_LINEAR: 'work_dirs/interclr-mocov2_resnet50_8xb32-coslr-200e_'
    'in1k/epoch_200.pth',
}
EVAL_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short', backend='pillow'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


@functools.lru_cache(maxsize=None)
def _parse(path):
    return Config.fromfile(path)


def load(path):
    return copy.deepcopy(_parse(path))


@pytest.mark.parametrize('path', ALL, ids=osp.basename)
def test_common_values(path):
    cfg = load(path)
    assert cfg.custom_imports.imports == ['mmmix']
    assert cfg.default_scope == 'mmmix'
    assert cfg.model.type == 'ImageClassifier'
    bb = cfg.model.backbone
    assert (bb.type, bb.depth, tuple(bb.out_indices), bb.frozen_stages) == (
        'ResNet', 50, (3, ), 4)
    assert bb.init_cfg == dict(type='Pretrained', checkpoint=DEFAULT_CKPT[
        path], prefix='backbone.')
    assert cfg.model.neck.type == 'GlobalAveragePooling'
    head = cfg.model.head
    assert (head.type, head.in_channels, head.num_classes) == (
        'LinearClsHead', 2048, 1000)


@pytest.mark.parametrize('path', [KNN, POOL5_KNN], ids=osp.basename)
def test_knn_protocol(path):
    cfg = load(path)
    assert cfg.train_cfg.max_epochs == 0 and cfg.param_scheduler == []
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader'):
        assert cfg[key] is None, key
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'mmmix.KNNEvalHook'
    assert tuple(hook.num_neighbors) == (10, 20, 100, 200)
    assert hook.temperature == 0.07 and tuple(hook.topk) == (1, 5)
    for loader, split in ((hook.bank_dataloader, 'train'),
                          (hook.query_dataloader, 'val')):
        assert loader.dataset.type == 'mmpretrain.ImageNet'
        assert loader.dataset.split == split
        assert strip_scope(loader.dataset.pipeline) == EVAL_PIPELINE
        assert not loader.sampler.shuffle
    # InterCLR's differs from CLIM's in the checkpoint only
    other = load(KNN)
    other.model.backbone.init_cfg.checkpoint = DEFAULT_CKPT[path]
    other.checkpoint = DEFAULT_CKPT[path]
    assert strip_scope(cfg.to_dict()) == strip_scope(other.to_dict())


def test_lars_linear_is_the_simsiam_byol_protocol(tmp_path):
    cfg = load(LARS)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'LARS', 1.6, 0.9, 0.)
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.T_max, sched.end) == ('CosineAnnealingLR', 90,
                                                    90)
    assert cfg.train_cfg.max_epochs == 90
    assert cfg.train_dataloader.batch_size * 8 == 4096
    assert cfg.auto_scale_lr.base_batch_size == 4096
    shapes = pipeline_input_shapes(cfg, tmp_path)
    assert shapes == dict(train_dataloader=(3, 224, 224),
                          val_dataloader=(3, 224, 224))


def test_pool5_linear_is_clims_probe():
    """MoCo's lr-30 probe, exactly the CLIM linear config's settings."""
    cfg = load(POOL5_LINEAR)
    clim = load(osp.join(CLIM, 'resnet50_8xb32-linear-steplr-100e_in1k.py'))
    for key in ('optim_wrapper', 'param_scheduler', 'train_cfg',
                'auto_scale_lr', 'train_dataloader', 'val_dataloader'):
        assert strip_scope(cfg[key]) == strip_scope(clim[key]), key
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.weight_decay) == ('SGD', 30., 0.)


@pytest.fixture(scope='module')
def moco_ckpt(tmp_path_factory):
    """A MoCo-like checkpoint: a perturbed ResNet-50 under ``backbone.``
    and other weights under ``encoder_k.module.0.``."""
    torch.manual_seed(0)
    # the initial weights scaled by noise, norm layers shifted (features
    # stay finite, BN variances positive)
    online = {
        k: v * (1 + 0.1 * torch.randn_like(v)) + 0.01 * torch.rand_like(v)
        * (v.dim() == 1) if v.is_floating_point() else v
        for k, v in ResNet(depth=50).state_dict().items()}
    state = {f'backbone.{k}': v for k, v in online.items()}
    # decoys: the momentum encoder's first and last convolutions
    state.update({f'encoder_k.module.0.{k}': online[k] + 1
                  for k in ('conv1.weight', 'layer4.2.conv3.weight')})
    state['neck.mlp.0.weight'] = torch.zeros(2, 2)
    path = str(tmp_path_factory.mktemp('moco') / 'epoch_200.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=200)), path)
    return path, online


@pytest.mark.parametrize('path', [KNN, LARS], ids=osp.basename)
def test_online_backbone_loads_frozen(path, moco_ckpt):
    ckpt, online = moco_ckpt
    cfg = load(path)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = build_model_from_cfg(cfg).cpu()
    model.init_weights()
    state = model.backbone.state_dict()
    assert set(state) == set(online)
    for key, value in online.items():
        assert torch.equal(state[key], value), key
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())


def test_knn_config_runs(moco_ckpt, fake_imagenet, tmp_path):
    """``tools/train.py`` on the k-NN config: no training step, the online
    backbone loaded, one k-NN evaluation in knn_summary.json (the 4
    generated train images are bank and queries)."""
    ckpt, online = moco_ckpt
    cfg = load(KNN)
    cfg.model.backbone.init_cfg.checkpoint = ckpt
    (hook, ) = cfg.custom_hooks
    hook.update(num_neighbors=(1, 2), topk=(1, ), progress=False)
    for loader in (cfg.train_dataloader, hook.bank_dataloader,
                   hook.query_dataloader):
        loader.update(batch_size=2, num_workers=0, persistent_workers=False,
                      pin_memory=False)
        loader.dataset.update(data_root=fake_imagenet, split='train')
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.train()
    assert runner.iter == 0
    assert torch.equal(runner.model.backbone.conv1.weight,
                       online['conv1.weight'])
    with open(tmp_path / 'knn_summary.json') as f:
        summary = json.load(f)
    assert summary['trained']['epoch'] == 0
    assert summary['trained']['top1_k1'] == 100.  # each query is in the bank
