"""MultiLayerLinearHead: shapes, per-layer losses against a hand-written
pool -> BatchNorm -> linear -> cross-entropy, no affine BatchNorm, the
frozen backbone of an ImageClassifier gets no gradient, argument checks."""
import copy
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmpretrain.structures import DataSample

from mmmix.models.heads import MultiLayerLinearHead
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)

CONFIG = osp.join(ROOT, 'configs', 'interclr', 'benchmarks',
                  'resnet50_multihead-linear-steplr-90e_in1k.py')
CHANNELS = (4, 6, 8)
POOLS = (3, 2, 1)


def _feats(b=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(b, c, s, s, generator=g)
                 for c, s in zip(CHANNELS, (8, 5, 3)))


def _samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def _head(**kwargs):
    kwargs.setdefault('num_classes', 7)
    kwargs.setdefault('in_channels', CHANNELS)
    kwargs.setdefault('pool_sizes', POOLS)
    head = MultiLayerLinearHead(**kwargs)
    head.init_weights()
    return head


def test_registered_and_shapes():
    head = MODELS.build(
        dict(type='MultiLayerLinearHead', num_classes=7,
             in_channels=list(CHANNELS), pool_sizes=list(POOLS)))
    assert isinstance(head, MultiLayerLinearHead)
    assert head.feat_dims == (4 * 9, 6 * 4, 8 * 1)
    assert [fc.in_features for fc in head.fcs] == [36, 24, 8]
    logits = head(_feats())
    assert [tuple(x.shape) for x in logits] == [(5, 7)] * 3


@pytest.mark.parametrize('per_channel', [False, True])
def test_each_loss_is_the_cross_entropy_of_its_layer(per_channel):
    torch.manual_seed(0)
    head = _head(norm_per_channel=per_channel)
    for fc in head.fcs:  # non-trivial biases
        torch.nn.init.normal_(fc.bias, std=0.1)
    head.train()
    feats = _feats()
    labels = torch.tensor([0, 3, 6, 2, 3])
    losses = head.loss(feats, _samples(labels))
    assert sorted(losses) == ['loss_layer1', 'loss_layer2', 'loss_layer3']
    for i, (x, p) in enumerate(zip(feats, POOLS)):
        # by hand: average pool to p x p, batch statistics (biased variance,
        # eps 1e-5) per flattened dimension or per channel, linear layer
        x = F.adaptive_avg_pool2d(x.double(), p)
        dims = (0, 2, 3) if per_channel else (0, )
        if not per_channel:
            x = x.flatten(1)
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, unbiased=False, keepdim=True)
        x = ((x - mean) / torch.sqrt(var + 1e-5)).flatten(1)
        fc = head.fcs[i]
        logits = x @ fc.weight.double().T + fc.bias.double()
        expected = F.cross_entropy(logits, labels)
        torch.testing.assert_close(
            losses[f'loss_layer{i + 1}'].double(), expected, rtol=1e-5,
            atol=1e-6)


def test_batchnorm_has_no_affine_parameters():
    for per_channel in (False, True):
        head = _head(norm_per_channel=per_channel)
        for norm in head.norms:
            assert norm.weight is None and norm.bias is None
            assert not norm.affine and norm.track_running_stats
        names = [n for n, _ in head.named_parameters()]
        assert names and all(n.startswith('fcs.') for n in names), names


def test_accuracy_names_and_no_loss_in_them():
    head = _head(cal_acc=True, topk=(1, 2),
                 layer_names=('res3', 'res4', 'res5'))
    losses = head.loss(_feats(), _samples([0, 1, 2, 3, 4]))
    assert {k for k in losses if 'loss' in k} == {
        'loss_res3', 'loss_res4', 'loss_res5'}
    for name in ('res3', 'res4', 'res5'):
        for k in (1, 2):
            acc = losses[f'accuracy_{name}_top-{k}']
            assert 0 <= float(acc) <= 100


def test_predict_scores_of_every_layer():
    head = _head().eval()
    feats = _feats()
    logits = head(feats)
    out = head.predict(feats, _samples([0] * 5))
    assert len(out) == 5
    for i, sample in enumerate(out):
        scores = sample.multi_layer_scores
        assert list(scores) == ['layer1', 'layer2', 'layer3']
        for j, name in enumerate(scores):
            torch.testing.assert_close(scores[name],
                                       F.softmax(logits[j][i], dim=0))
        # pred_score: the deepest layer by default
        torch.testing.assert_close(sample.pred_score, scores['layer3'])
        assert int(sample.pred_label) == int(logits[2][i].argmax())
    # another layer, and no data samples given
    out = _head(pred_layer=0).eval().predict(feats)
    torch.testing.assert_close(out[0].pred_score,
                               out[0].multi_layer_scores['layer1'])


def test_in_indices_pick_feature_maps():
    head = _head(in_channels=(8, 4), pool_sizes=(1, 2), in_indices=(-1, 0))
    logits = head(_feats())
    assert [tuple(x.shape) for x in logits] == [(5, 7), (5, 7)]
    assert head.feat_dims == (8, 16)


@pytest.mark.parametrize('kwargs,match', [
    (dict(num_classes=0), 'num_classes'),
    (dict(num_classes=2.5), 'num_classes'),
    (dict(pool_sizes=(3, 2)), 'pool_sizes has 2 entries'),
    (dict(pool_sizes=(3, 0, 1)), 'pool_sizes'),
    (dict(in_channels=(4, -6, 8)), 'in_channels'),
    (dict(in_channels=()), 'in_channels'),
    (dict(in_indices=(0, 1)), 'in_indices'),
    (dict(layer_names=('a', 'b')), 'layer_names'),
    (dict(layer_names=('a', 'a', 'b')), 'unique'),
    (dict(layer_names=('a', 'b', 'my_loss')), 'loss'),
    (dict(pred_layer=3), 'pred_layer'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _head(**kwargs)
    with pytest.raises(TypeError, match='pool_sizes'):
        _head(pool_sizes=3)


def test_bad_features():
    head = _head()
    with pytest.raises(ValueError, match='layer2 expects'):
        head(_feats()[:1] + (torch.randn(5, 5, 4, 4), ) + _feats()[2:])
    with pytest.raises(ValueError, match='feature maps'):
        head(_feats()[:2])
    with pytest.raises(TypeError, match='neck=None'):
        head(torch.randn(5, 8))


def tiny_classifier_cfg():
    """The ImageNet config's model with a ResNet-18 for 32 px inputs."""
    cfg = Config.fromfile(CONFIG)
    model = copy.deepcopy(cfg.model)
    model.backbone.update(depth=18, init_cfg=None)
    model.head.update(num_classes=5, in_channels=[64, 128, 256, 512],
                      pool_sizes=[4, 2, 2, 1])
    model.data_preprocessor = dict(
        type='ClsDataPreprocessor', num_classes=5)
    return model


def test_frozen_backbone_gets_no_gradient():
    torch.manual_seed(0)
    model = MODELS.build(tiny_classifier_cfg())
    model.init_weights()
    assert model.neck is None
    model.train()
    backbone_state = {k: v.clone()
                      for k, v in model.backbone.state_dict().items()}
    # frozen_stages=4 and norm_eval: every BatchNorm is in eval mode and no
    # backbone parameter takes a gradient
    norms = [m for m in model.backbone.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(m.training for m in norms)
    assert not any(p.requires_grad for p in model.backbone.parameters())
    x = torch.randn(4, 3, 32, 32)
    losses = model(x, _samples([0, 1, 2, 3]), mode='loss')
    assert len(losses) == 4
    total = sum(losses.values())
    total.backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    for fc in model.head.fcs:
        assert fc.weight.grad is not None and fc.weight.grad.abs().sum() > 0
    # BN running statistics of the backbone did not move in train mode
    for k, v in model.backbone.state_dict().items():
        assert torch.equal(v, backbone_state[k]), k
    # but the head's BatchNorm did
    assert any(n.running_mean.abs().sum() > 0 for n in model.head.norms)
