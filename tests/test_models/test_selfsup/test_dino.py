"""DINO (spec U3) with a tiny ViT (48-d, 2 layers, 6 heads, 32 px, patch 8)
and a tiny CIFAR ResNet-18: the teacher starts as the student, runs without
drop path, follows the cosine EMA 0.004 (cos(pi k / N) + 1) / 2 (updated at
the start of ``loss()``, mmpretrain's BYOL pattern), multi-resolution
student forwards, the loss dict, the state dict (centre, teacher),
``extract_feat`` of the teacher / student, gradients, argument checks."""
import copy
import math

import pytest
import torch
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

from mmmix.models.selfsup import DINO
from mmmix.models.selfsup.dino import (
    cls_features,
    disable_stochastic_depth,
    teacher_stats,
)
from mmmix.ops.dino import multicrop_pair_weights
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

K = 32
VIT = dict(type='VisionTransformer',
           arch=dict(embed_dims=48, num_layers=2, num_heads=6,
                     feedforward_channels=96),
           img_size=32, patch_size=8, in_channels=3, drop_path_rate=0.1,
           out_type='cls_token')
W = 4  # ResNet width: the last stage has 8 * W channels
RESNET = dict(type='ResNet_CIFAR', depth=18, in_channels=3,
              stem_channels=W, base_channels=W, norm_cfg=dict(type='BN'))


def _cfg(backbone=VIT, in_channels=48, **kw):
    cfg = dict(
        type='mmmix.DINO', backbone=backbone,
        head=dict(type='mmmix.DINOHead', in_channels=in_channels,
                  out_channels=K, hidden_channels=32,
                  bottleneck_channels=16, norm_last_layer=False),
        loss=dict(type='mmmix.DINOLoss', out_channels=K, center_momentum=0.9))
    cfg.update(kw)
    return cfg


def _build(seed=0, **kw):
    torch.manual_seed(seed)
    model = MODELS.build(_cfg(**kw))
    model.train()
    return model


def _resnet(**kw):
    return _build(backbone=RESNET, in_channels=8 * W,
                  neck=dict(type='GlobalAveragePooling'), **kw)


def _views(b=4, sizes=(32, 32, 16, 16), seed=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, 3, s, s, generator=g) for s in sizes]


def _samples(b=4):
    return [DataSample() for _ in range(b)]


def _student_params(model):
    return dict(model._student_net().named_parameters())


def _teacher_params(model):
    return dict(model.target_net.module.named_parameters())


def test_build_from_config_dict():
    model = _build()
    assert isinstance(model, DINO)
    assert model.num_global_views == 2 and model.feature_source == 'teacher'
    assert model.teacher_backbone is model.target_net.module[0]
    # the config spelling (default scope 'mmmix', no prefixes) also builds
    cfg = _cfg()
    cfg['type'] = 'DINO'
    cfg['head']['type'] = 'DINOHead'
    cfg['loss']['type'] = 'DINOLoss'
    with DefaultScope.overwrite_default_scope('mmmix'):
        assert isinstance(MODELS.build(cfg), DINO)


def test_teacher_equals_student_at_init():
    model = _build()
    student, teacher = _student_params(model), _teacher_params(model)
    assert student.keys() == teacher.keys()
    for name, p in student.items():
        assert torch.equal(p, teacher[name]), name
        assert p is not teacher[name]
        assert not teacher[name].requires_grad


def test_teacher_equals_student_after_init_weights():
    """The runner's init_weights re-initialises the student (e.g. the ViT
    pos_embed); the teacher restarts as its copy, so a k-NN evaluation
    before the first step sees the same network."""
    model = _build()
    model.init_weights()
    student, teacher = _student_params(model), _teacher_params(model)
    for name, p in student.items():
        assert torch.equal(p, teacher[name]), name


def test_teacher_has_no_drop_path():
    model = _build()
    student_dp = [m.drop_prob for m in model.backbone.modules()
                  if hasattr(m, 'drop_prob')]
    teacher_dp = [m.drop_prob for m in model.teacher_backbone.modules()
                  if hasattr(m, 'drop_prob')]
    # linspace(0, 0.1, 2): block 1's two DropPaths are active in the student
    assert sorted(student_dp) == [0., 0., 0.1, 0.1]
    assert teacher_dp == [0.] * 4
    # the function reports what it changed: only the active ones
    assert disable_stochastic_depth(copy.deepcopy(model.backbone)) == 2
    assert disable_stochastic_depth(model.teacher_backbone) == 0
    drop = torch.nn.Sequential(torch.nn.Dropout(0.3), torch.nn.Dropout(0.))
    assert disable_stochastic_depth(drop) == 1 and drop[0].p == 0
    # train mode: the teacher is deterministic, the student is not
    assert model.target_net.training and model.teacher_backbone.training
    x = _views(b=16, sizes=(32, ))[0]
    torch.manual_seed(3)
    t1 = model.teacher_logits([x])
    t2 = model.teacher_logits([x])
    assert torch.equal(t1, t2)
    s1 = model.student_logits([x])
    s2 = model.student_logits([x])
    assert not torch.allclose(s1, s2)


def test_teacher_has_no_token_dropout():
    model = _build(backbone=dict(VIT, drop_rate=0.2))
    assert model.backbone.drop_after_pos.p == 0.2
    assert model.teacher_backbone.drop_after_pos.p == 0.
    x = _views(b=4, sizes=(32, ))[0]
    assert torch.equal(model.teacher_logits([x]), model.teacher_logits([x]))


def test_teacher_has_no_attention_dropout():
    model = _build(backbone=dict(VIT, drop_path_rate=0.,
                                 layer_cfgs=dict(attn_drop_rate=0.5)))
    assert model.backbone.layers[0].attn.attn_drop == 0.5
    x = _views(b=4, sizes=(32, ))[0]
    assert torch.equal(model.teacher_logits([x]), model.teacher_logits([x]))


def _hand_ema(old, new, steps, max_iters, base=0.004):
    m = base * (math.cos(math.pi * steps / max_iters) + 1) / 2
    return {k: (1 - m) * old[k] + m * new[k] for k in old}


def test_teacher_cosine_ema_after_a_step(hub):
    n = 10
    hub.update_info('max_iters', n)
    model = _build()
    model.init_weights()  # the runner re-initialises teacher and student
    views = _views()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.5)
    assert int(model.target_net.steps) == 0
    # first loss(): steps == 0, the teacher is a copy of the student
    loss = model.loss(views, _samples())['loss']
    assert int(model.target_net.steps) == 1
    for name, p in _student_params(model).items():
        assert torch.equal(p, _teacher_params(model)[name]), name
    old = {k: v.clone() for k, v in _teacher_params(model).items()}
    loss.backward()
    opt.step()
    opt.zero_grad()
    new = {k: v.detach().clone() for k, v in _student_params(model).items()}
    assert any(not torch.equal(old[k], new[k]) for k in old)
    model.loss(views, _samples())
    expect = _hand_ema(old, new, steps=1, max_iters=n)
    got = _teacher_params(model)
    for k in expect:
        torch.testing.assert_close(got[k], expect[k], rtol=1e-6, atol=1e-7)
    # the teacher moved, but only by m ~ 0.004 of the way
    moved = [k for k in old if not torch.equal(got[k], old[k])]
    assert moved
    for k in moved:
        gap = (new[k] - old[k]).abs().max()
        assert (got[k] - old[k]).abs().max() <= 0.005 * gap + 1e-7
    assert int(model.target_net.steps) == 2
    # the same steps with a custom momentum schedule
    hub.update_info('max_iters', 4)
    old = {k: v.clone() for k, v in got.items()}
    model.update_teacher()
    expect = _hand_ema(old, new, steps=2, max_iters=4)
    for k in expect:
        torch.testing.assert_close(_teacher_params(model)[k], expect[k],
                                   rtol=1e-6, atol=1e-7)


def test_multi_resolution_views_and_loss_dict(hub):
    model = _build()
    views = _views(sizes=(32, 32, 16, 16))
    out = model.loss(views, _samples())
    assert set(out) == {'loss', 'teacher_entropy', 'teacher_mean_entropy'}
    for v in out.values():
        assert v.dim() == 0 and torch.isfinite(v)
    assert 0 <= out['teacher_entropy'] <= math.log(K) + 1e-5
    assert 0 <= out['teacher_mean_entropy'] <= math.log(K) + 1e-5
    assert out['teacher_entropy'] <= out['teacher_mean_entropy'] + 1e-5
    assert out['loss'].requires_grad
    assert not out['teacher_entropy'].requires_grad
    # batched forwards per size equal one forward per view (eval: no drop)
    model.eval()
    s = model.student_logits(views)
    assert s.shape == (4, 4, K)
    net = model._student_net()
    for i, v in enumerate(views):
        torch.testing.assert_close(s[i], model._embed(net, v),
                                   rtol=1e-5, atol=1e-6)
    t = model.teacher_logits(views[:2])
    assert t.shape == (2, 4, K)


def test_loss_equals_dino_loss_of_the_logits(hub):
    """loss() = DINOLoss(teacher(globals), student(all views)) with the
    centre from before the call; the centre is updated once."""
    model = _build()
    model.eval()  # deterministic student for the comparison
    model.loss(_views(seed=5), _samples())  # steps 0 -> 1 (a copy)
    views = _views()
    loss_fn = copy.deepcopy(model.dino_loss)
    ref = copy.deepcopy(model)
    ref.update_teacher()
    t = ref.teacher_logits(views[:2])
    s = ref.student_logits(views)
    expect = loss_fn(t, s, multicrop_pair_weights(2, 4))
    out = model.loss(views, _samples())
    torch.testing.assert_close(out['loss'], expect)
    torch.testing.assert_close(model.dino_loss.center, loss_fn.center)
    probs = torch.softmax((t - ref.dino_loss.center) / 0.04, -1)
    stats = teacher_stats(probs)
    for k, v in stats.items():
        torch.testing.assert_close(out[k], v)


def test_state_dict_has_center_and_teacher(hub):
    model = _build()
    model.loss(_views(), _samples())
    state = model.state_dict()
    assert 'dino_loss.center' in state
    assert torch.equal(state['dino_loss.center'], model.dino_loss.center)
    assert not torch.all(state['dino_loss.center'] == 0)
    teacher_keys = [k for k in state if k.startswith('target_net.')]
    assert 'target_net.steps' in teacher_keys
    assert 'target_net.module.0.cls_token' in teacher_keys
    assert ('target_net.module.1.last_layer.parametrizations.weight.'
            'original1') in teacher_keys
    # a fresh model loads them back
    with torch.no_grad():
        for p in model.target_net.parameters():
            p.add_(0.01)
    fresh = _build(seed=1)
    fresh.load_state_dict(model.state_dict())
    assert torch.equal(fresh.dino_loss.center, model.dino_loss.center)
    assert int(fresh.target_net.steps) == 1
    for k, p in _teacher_params(model).items():
        assert torch.equal(_teacher_params(fresh)[k], p), k


def test_extract_feat_teacher_and_student():
    model = _build()
    with torch.no_grad():  # make the teacher differ from the student
        for p in model.target_net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.eval()
    x = _views(b=3, sizes=(32, ))[0]
    feats = model.extract_feat(x)
    assert isinstance(feats, tuple) and len(feats) == 1
    assert feats[0].shape == (3, 48)
    teacher_cls = model.target_net.module[0](x)[-1]
    torch.testing.assert_close(feats[0], teacher_cls)
    student_cls = model.backbone(x)[-1]
    assert not torch.allclose(feats[0], student_cls)
    model.feature_source = 'student'
    torch.testing.assert_close(model.extract_feat(x)[0], student_cls)
    student = _build(feature_source='student')
    student.eval()
    torch.testing.assert_close(student.extract_feat(x)[0],
                               student.backbone(x)[-1])


def test_cls_features():
    tokens = torch.randn(2, 5, 7)
    assert torch.equal(cls_features(tokens), tokens[:, 0])
    assert torch.equal(cls_features((tokens, )), tokens[:, 0])
    fmap = torch.randn(2, 7, 3, 3)
    torch.testing.assert_close(cls_features(fmap), fmap.mean((2, 3)))
    vec = torch.randn(2, 7)
    assert cls_features(((fmap, vec), )) is vec


def test_gradients_reach_student_not_teacher(hub):
    model = _build()
    loss = model.loss(_views(), _samples())['loss']
    loss.backward()
    for name, p in model.backbone.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    for name, p in model.head.named_parameters():
        assert p.grad is not None, name
    assert model.head.last_layer.parametrizations.weight.original0.grad \
        is not None
    for name, p in model.target_net.named_parameters():
        assert not p.requires_grad and p.grad is None, name


def test_frozen_g_gets_no_grad(hub):
    model = _build()
    model.head.last_layer.parametrizations.weight.original0.requires_grad_(
        False)
    model.loss(_views(), _samples())['loss'].backward()
    assert model.head.last_layer.parametrizations.weight.original0.grad \
        is None


def test_resnet_backbone_trains_a_step(hub):
    model = _resnet()
    assert model.with_neck
    assert isinstance(model.target_net.module[1], type(model.neck))
    views = _views(sizes=(16, 16, 8, 8))
    # the teacher stays in train mode: batch statistics, like DINO's
    assert model.target_net.module.training
    ref = copy.deepcopy(model.target_net.module).train()
    expect_t = torch.stack(model._embed(ref, torch.cat(views[:2])).chunk(2))
    got_t = model.teacher_logits(views[:2])
    torch.testing.assert_close(got_t, expect_t)
    ref.eval()
    eval_t = torch.stack(model._embed(ref, torch.cat(views[:2])).chunk(2))
    assert not torch.allclose(got_t, eval_t)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad],
                          lr=0.1)
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    out = model.loss(views, _samples())
    assert all(torch.isfinite(v) for v in out.values())
    out['loss'].backward()
    for name, p in model.backbone.named_parameters():
        assert p.grad is not None, name
    assert all(p.grad is None for p in model.target_net.parameters())
    opt.step()
    opt.zero_grad()
    after = model.backbone.state_dict()
    assert not torch.equal(after['conv1.weight'], before['conv1.weight'])
    out2 = model.loss(views, _samples())
    assert torch.isfinite(out2['loss'])
    # the EMA copies the student's BN buffers into the teacher (its own
    # train-mode forwards move them afterwards)
    model.update_teacher()
    student_buffers = dict(model._student_net().named_buffers())
    teacher_buffers = dict(model.target_net.module.named_buffers())
    assert student_buffers.keys() == teacher_buffers.keys()
    for k, b in student_buffers.items():
        assert torch.equal(teacher_buffers[k], b), k
    feats = model.extract_feat(views[0])
    assert feats[0].shape == (4, 8 * W)


def test_too_few_views(hub):
    model = _build()
    with pytest.raises(ValueError, match='num_global_views'):
        model.loss(_views(sizes=(32, 32)), _samples())
    with pytest.raises(ValueError, match='MultiView'):
        model.loss(_views(sizes=(32, ))[0], _samples())
    one = _build(num_global_views=1)
    out = one.loss(_views(sizes=(32, 16)), _samples())
    assert torch.isfinite(out['loss'])


@pytest.mark.parametrize('kw,match', [
    (dict(num_global_views=0), 'num_global_views'),
    (dict(feature_source='both'), 'feature_source'),
    (dict(base_momentum=0.004, end_momentum=0.01), 'end_momentum'),
    (dict(base_momentum=1.5), 'base_momentum')])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        _build(**kw)
