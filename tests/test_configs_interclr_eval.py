"""The InterCLR linear-evaluation configs (``configs/interclr/benchmarks``;
spec interclr.md §5.1, §5.2, A20).

No ImageNet or Places205 here: the configs parse and carry the protocol's
values (frozen 4-stage ResNet-50, four pooled ~9k-d probes, SGD 0.01
nesterov, the step schedule of each dataset), the ResNet-50 model builds
from each config and runs a ``loss`` and a ``predict`` forward on random
64 px images (the pool sizes are adaptive, so 64 px gives the same feature
sizes as 224 px), the predictions go through the config's evaluator, and
the data pipelines give 224 px crops of a generated image file.
"""
import copy
import functools
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmmix.engine import build_model_from_cfg
from mmmix.models.heads import MultiLayerLinearHead
from mmmix.registry import METRICS, PARAM_SCHEDULERS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT, pipeline_input_shapes

register_all_modules(init_default_scope=False)

BENCH = osp.join(ROOT, 'configs', 'interclr', 'benchmarks')
IN1K = 'resnet50_multihead-linear-steplr-90e_in1k.py'
PLACES = 'resnet50_multihead-linear-steplr-28e_places205.py'
#: (config, classes, epochs, milestones, dataset type)
RECIPES = [
    (IN1K, 1000, 90, [30, 60, 90], 'ImageNet'),
    (PLACES, 205, 28, [7, 14, 21], 'Places205'),
]


@functools.lru_cache(maxsize=None)
def _parse(name):
    return Config.fromfile(osp.join(BENCH, name))


def load(name):
    return copy.deepcopy(_parse(name))


@pytest.mark.parametrize('name,classes,epochs,milestones,dataset', RECIPES)
def test_protocol_values(name, classes, epochs, milestones, dataset):
    cfg = load(name)
    assert 'mmmix' in cfg.custom_imports.imports
    model = cfg.model
    assert model.type == 'ImageClassifier' and model.neck is None
    bb = model.backbone
    assert (bb.type, bb.depth, tuple(bb.out_indices), bb.frozen_stages,
            bb.norm_eval) == ('ResNet', 50, (0, 1, 2, 3), 4, True)
    assert (bb.init_cfg.type, bb.init_cfg.prefix) == ('Pretrained',
                                                      'backbone.')
    head = model.head
    assert head.type == 'mmmix.MultiLayerLinearHead'
    assert head.num_classes == classes == cfg.data_preprocessor.num_classes
    assert list(head.in_channels) == [256, 512, 1024, 2048]
    assert list(head.pool_sizes) == [6, 4, 3, 2]
    opt = cfg.optim_wrapper.optimizer
    assert (opt.type, opt.lr, opt.momentum, opt.weight_decay,
            opt.nesterov) == ('SGD', 0.01, 0.9, 1e-4, True)
    assert cfg.optim_wrapper.paramwise_cfg.norm_decay_mult == 0.
    (sched, ) = cfg.param_scheduler
    assert (sched.type, list(sched.milestones), sched.gamma,
            sched.by_epoch) == ('MultiStepLR', milestones, 0.1, True)
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.train_dataloader.batch_size * 8 == 256
    assert cfg.auto_scale_lr.base_batch_size == 256
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].dataset.type == dataset
    for key in ('val_evaluator', 'test_evaluator'):
        assert cfg[key].type == 'mmmix.MultiLayerAccuracy'
    assert cfg.default_hooks.checkpoint.save_best == \
        'multi_layer/best_top1'


@pytest.mark.parametrize('name,classes', [(IN1K, 1000), (PLACES, 205)])
def test_model_loss_predict_and_metric(name, classes):
    torch.manual_seed(0)
    cfg = load(name)
    cfg.model.backbone.init_cfg = None  # no pretrained checkpoint here
    with DefaultScope.overwrite_default_scope('mmmix'):
        model = build_model_from_cfg(cfg).cpu()
        optim = build_optim_wrapper(model, cfg.optim_wrapper)
        for sched in cfg.param_scheduler:
            PARAM_SCHEDULERS.build(sched, default_args=dict(
                optimizer=optim, epoch_length=10))
        metric = METRICS.build(cfg.val_evaluator)
    head = model.head
    assert isinstance(head, MultiLayerLinearHead)
    assert head.feat_dims == (9216, 8192, 9216, 8192)
    assert [fc.out_features for fc in head.fcs] == [classes] * 4

    raw = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    labels = [3, classes - 1]
    batch = dict(inputs=list(raw),
                 data_samples=[DataSample().set_gt_label(y)
                               for y in labels])
    model.train()
    data = model.data_preprocessor(batch, True)
    losses = model(**data, mode='loss')
    assert sorted(losses) == ['loss_res2', 'loss_res3', 'loss_res4',
                              'loss_res5']
    total = sum(losses.values())
    assert torch.isfinite(total)
    optim.update_params(total)
    assert all(p.grad is None for p in model.backbone.parameters())

    model.eval()
    with torch.no_grad():
        out = model.test_step(batch)
    assert out[0].pred_score.shape == (classes, )
    assert list(out[0].multi_layer_scores) == ['res2', 'res3', 'res4',
                                               'res5']
    metric.process(batch, [s.to_dict() for s in out])
    res = metric.evaluate(2)
    assert {'multi_layer/res5_top1', 'multi_layer/best_top1',
            'multi_layer/best_layer'} <= set(res)


@pytest.mark.parametrize('name', [IN1K, PLACES])
def test_pipelines_give_224_crops(name, tmp_path):
    shapes = pipeline_input_shapes(load(name), tmp_path)
    assert shapes == dict(train_dataloader=(3, 224, 224),
                          val_dataloader=(3, 224, 224))
