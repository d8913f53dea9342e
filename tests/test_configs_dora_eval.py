"""The DINO / DoRA ViT-S/16 evaluation configs (``configs/dora/benchmarks``;
spec dora.md §6): linear probe, weighted k-NN, 1 % / 10 % fine-tuning.

No ImageNet here: the configs parse and carry the protocol's values; a
teacher checkpoint written by ``tools/model_converters/extract_backbone.py
--teacher`` from a fake DINO checkpoint loads into each config's
``VisionTransformer(arch='deit-small')`` (the teacher's weights, not the
student's), frozen for the linear probe and k-NN, trainable for the
fine-tuning; a ``loss`` step on two images trains only what it should; the
k-NN config runs through the runner on a generated ImageNet folder and
writes its summary; the subset configs read exactly the listed images.
"""
import copy
import functools
import importlib.util
import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.models import VisionTransformer
from mmpretrain.structures import DataSample

from mmmix.engine import build_model_from_cfg, build_runner
from mmmix.registry import PARAM_SCHEDULERS
from mmmix.utils import register_all_modules
from tests.conftest import (
    ROOT,
    check_subset_annotation_read,
    pipeline_input_shapes,
)

register_all_modules(init_default_scope=False)

BENCH = osp.join(ROOT, 'configs', 'dora', 'benchmarks')
LINEAR = 'vit-small-p16_linear-8xb128-coslr-100e_in1k.py'
KNN = 'vit-small-p16_knn-k20_in1k.py'
SEMI = {
    '1': 'vit-small-p16_semi-1pct-8xb32-steplr-20e_in1k.py',
    '10': 'vit-small-p16_semi-10pct-8xb32-steplr-20e_in1k.py',
}
ALL = [LINEAR, KNN, SEMI['1'], SEMI['10']]
TEACHER = 'target_net.module.0.'


@functools.lru_cache(maxsize=None)
def _parse(name):
    return Config.fromfile(osp.join(BENCH, name))


def load(name):
    return copy.deepcopy(_parse(name))


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name.replace('/', '_'), osp.join(ROOT, 'tools', name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def teacher_ckpt(tmp_path_factory):
    """``(path, teacher state)``: the ``--teacher`` export of a fake DINO
    checkpoint whose student (``backbone.``) and EMA teacher
    (``target_net.module.0.``) are two different ViT-S/16."""
    root = tmp_path_factory.mktemp('dino_ckpt')
    torch.manual_seed(1)
    student = VisionTransformer(arch='deit-small').state_dict()
    teacher = {k: torch.randn_like(v) if v.is_floating_point() else v
               for k, v in student.items()}
    state = {f'backbone.{k}': v for k, v in student.items()}
    state.update({TEACHER + k: v for k, v in teacher.items()})
    state['head.last_layer.weight'] = torch.zeros(4, 2)
    torch.save(dict(state_dict=state, meta=dict(epoch=100)),
               root / 'epoch_100.pth')
    out = str(root / 'teacher.pth')
    load_tool('model_converters/extract_backbone.py').main(
        [str(root / 'epoch_100.pth'), out, '--teacher', '--arch', 'vit'])
    return out, teacher


def build(cfg, checkpoint):
    cfg.model.backbone.init_cfg.checkpoint = checkpoint
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = build_model_from_cfg(cfg).cpu()
    model.init_weights()
    return model


# ------------------------------------------------------------ values ----
@pytest.mark.parametrize('name', ALL)
def test_common_values(name):
    cfg = load(name)
    assert cfg.custom_imports.imports == ['mmmix']
    assert cfg.default_scope == 'mmmix'
    bb = cfg.model.backbone
    assert (bb.type, bb.arch, bb.patch_size, bb.img_size, bb.out_type,
            bb.final_norm) == ('mmpretrain.VisionTransformer', 'deit-small',
                               16, 224, 'cls_token', True)
    init = bb.init_cfg
    assert init.type == 'Pretrained' and 'prefix' not in init
    # an mmpretrain-style placeholder, relative to the repository
    assert init.checkpoint.startswith('work_dirs/')
    assert init.checkpoint.endswith('teacher.pth')
    head = cfg.model.head
    assert (head.type, head.in_channels, head.num_classes) == (
        'LinearClsHead', 384, 1000)
    assert cfg.data_preprocessor.num_classes == 1000


def test_linear_protocol():
    cfg = load(LINEAR)
    assert cfg.model.backbone.frozen_stages == 12
    assert cfg.model.neck is None
    assert cfg.model.head.init_cfg == dict(type='Normal', layer='Linear',
                                           std=0.01, bias=0.)
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.momentum, opt.weight_decay) == ('SGD', 0.9, 0.)
    # lr x batch / 256 at the thesis' 1024 images a step
    assert cfg.train_dataloader.batch_size * 8 == 1024
    assert cfg.auto_scale_lr.base_batch_size == 1024
    assert opt.lr == pytest.approx(0.01 * 1024 / 256)
    (sched, ) = cfg.param_scheduler
    assert (sched.type, sched.T_max, sched.eta_min, sched.by_epoch,
            sched.end) == ('CosineAnnealingLR', 100, 0., True, 100)
    assert cfg.train_cfg.max_epochs == 100
    train = [t.type for t in cfg.train_dataloader.dataset.pipeline]
    assert train == ['LoadImageFromFile', 'RandomResizedCrop', 'RandomFlip',
                     'PackInputs']
    resize, crop = cfg.val_dataloader.dataset.pipeline[1:3]
    assert (resize.type, resize.scale, resize.edge, resize.interpolation) \
        == ('ResizeEdge', 256, 'short', 'bicubic')
    assert (crop.type, crop.crop_size) == ('CenterCrop', 224)
    assert cfg.val_dataloader.dataset.split == 'val'
    assert cfg.val_evaluator.type == 'Accuracy'


def test_knn_protocol():
    cfg = load(KNN)
    assert cfg.model.backbone.frozen_stages == 12
    assert cfg.train_cfg.max_epochs == 0
    for key in ('val_dataloader', 'val_cfg', 'test_dataloader'):
        assert cfg[key] is None, key
    (hook, ) = cfg.custom_hooks
    assert hook.type == 'mmmix.KNNEvalHook'
    assert 20 in hook.num_neighbors and hook.temperature == 0.07
    assert hook.bank_dataloader.dataset.split == 'train'
    assert hook.query_dataloader.dataset.split == 'val'
    val = load(LINEAR).val_dataloader.dataset.pipeline
    for loader in (hook.bank_dataloader, hook.query_dataloader):
        assert loader.dataset.type == 'mmpretrain.ImageNet'
        assert loader.dataset.pipeline == val
        assert not loader.sampler.shuffle


@pytest.mark.parametrize('pct,wd', [('1', 5e-4), ('10', 1e-4)])
def test_semi_protocol(pct, wd):
    cfg = load(SEMI[pct])
    semi = load('../../interclr/benchmarks/'
                f'resnet50_8xb32-semi-{pct}pct-20e_in1k.py')
    assert cfg.model.backbone.frozen_stages <= 0
    assert cfg.train_dataloader.dataset.ann_file == \
        semi.train_dataloader.dataset.ann_file == f'meta/{pct}percent.txt'
    assert cfg.train_dataloader.dataset.split == 'train'
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay) == (
        'SGD', 0.01, 0.9, wd)
    assert opt.weight_decay == semi.optim_wrapper.optimizer.weight_decay
    assert cfg.optim_wrapper.paramwise_cfg == \
        semi.optim_wrapper.paramwise_cfg
    assert cfg.param_scheduler == semi.param_scheduler
    assert cfg.train_cfg.max_epochs == 20
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    assert cfg.val_dataloader.dataset.split == 'val'  # the full val set


def test_semi_subset_annotation_read(tmp_path):
    check_subset_annotation_read(load(SEMI['1']), tmp_path)


# ------------------------------------------------------------- model ----
@pytest.mark.parametrize('name', [LINEAR, KNN, SEMI['1']])
def test_teacher_loads_and_trains_what_it_should(name, teacher_ckpt):
    path, teacher = teacher_ckpt
    cfg = load(name)
    model = build(cfg, path)
    state = model.backbone.state_dict()
    assert set(state) == set(teacher)
    for key, value in teacher.items():
        torch.testing.assert_close(state[key], value, msg=key)
    frozen = cfg.model.backbone.frozen_stages == 12
    assert all(p.requires_grad != frozen
               for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())

    with DefaultScope.overwrite_default_scope('mmmix'):
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        for sched in cfg.param_scheduler:
            PARAM_SCHEDULERS.build(sched, default_args=dict(
                optimizer=optim, epoch_length=10))
    lrs = {id(p): g['lr'] for g in optim.optimizer.param_groups
           for p in g['params']}
    head_lr = cfg.optim_wrapper.optimizer.lr
    if not frozen:  # the fine-tuning: the classifier learns 100x faster
        head_lr *= 100
        assert {lrs[id(p)] for p in model.backbone.parameters()} == {0.01}
    assert {lrs[id(p)] for p in model.head.parameters()} == {head_lr}

    torch.manual_seed(0)
    raw = torch.randint(0, 256, (2, 3, 224, 224), dtype=torch.uint8)
    batch = dict(inputs=list(raw),
                 data_samples=[DataSample().set_gt_label(y)
                               for y in (3, 999)])
    model.train()
    data = model.data_preprocessor(batch, True)
    feats = model.extract_feat(data['inputs'])
    assert feats[-1].shape == (2, 384)  # the teacher's [CLS]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = model(**data, mode='loss')['loss']
    assert torch.isfinite(loss)
    optim.update_params(loss)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert {'head.fc.weight', 'head.fc.bias'} <= changed
    moved = {k for k in changed if k.startswith('backbone.')}
    if frozen:
        assert not moved
    else:
        assert 'backbone.layers.11.attn.qkv.weight' in moved


@pytest.mark.parametrize('name', [LINEAR, SEMI['1']])
def test_pipelines_give_224_crops(name, tmp_path):
    shapes = pipeline_input_shapes(load(name), tmp_path)
    assert shapes == dict(train_dataloader=(3, 224, 224),
                          val_dataloader=(3, 224, 224))


def test_knn_config_runs(teacher_ckpt, fake_imagenet, tmp_path):
    """``tools/train.py`` on the k-NN config: no training step, the
    teacher loaded, one k-NN evaluation written to knn_summary.json (the
    4 generated train images are bank and queries)."""
    path, teacher = teacher_ckpt
    cfg = load(KNN)
    cfg.model.backbone.init_cfg.checkpoint = path
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
    torch.testing.assert_close(
        runner.model.backbone.cls_token, teacher['cls_token'])
    with open(tmp_path / 'knn_summary.json') as f:
        summary = json.load(f)
    trained = summary['trained']
    assert trained['epoch'] == 0
    # every query is in the bank: its own nearest neighbour
    assert trained['top1_k1'] == 100.
    assert len(summary['history']) == 1
