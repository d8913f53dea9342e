"""A2 models: reduction to the base method, loss formulas, stop-gradient,
MoCo's queue, wiring (views, BN batching) and a train step."""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.optim import OptimWrapper
from mmengine.registry import DefaultScope
from mmpretrain.models.selfsup import BYOL, MoCo, SimCLR, SimSiam
from mmpretrain.structures import DataSample

from mmmix.models.selfsup import A2BYOL, A2MoCoV2, A2SimCLR, A2SimSiam
from mmmix.ops.assimilation import (
    a2_full_loss,
    alignment_term,
    cross_view_infonce,
    nt_xent,
)
from mmmix.registry import MODELS

W, B, S = 4, 4, 8  # backbone width, batch, image size
BACKBONE = dict(type='ResNet_CIFAR', depth=18, in_channels=3,
                stem_channels=W, base_channels=W, norm_cfg=dict(type='BN'))
MOCO_NECK = dict(type='MoCoV2Neck', in_channels=8 * W, hid_channels=16,
                 out_channels=8, with_avg_pool=True)
LATENT_NECK = dict(type='NonLinearNeck', in_channels=8 * W,
                   hid_channels=16, out_channels=8, with_avg_pool=True)
PREDICTOR = dict(type='NonLinearNeck', in_channels=8, hid_channels=16,
                 out_channels=8, with_avg_pool=False)
SIMCLR_HEAD = dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                   temperature=0.5)


class ToyBackbone(nn.Module):
    """BN-free: per-sample outputs do not depend on the batch."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, stride=2, padding=1)

    def forward(self, x):
        return (torch.tanh(self.conv(x)), )


class ToyNeck(nn.Module):

    def __init__(self, out_channels=6):
        super().__init__()
        self.fc = nn.Linear(8, out_channels)

    def forward(self, x):
        return (self.fc(x[0].mean((2, 3))), )


def _views(n, seed=1, size=S):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(B, 3, size, size, generator=g) for _ in range(n)]


def _pair(base, ours, build):
    """``base`` and ``ours`` built from the same seed, same weights."""
    torch.manual_seed(0)
    ref = build(base, {})
    torch.manual_seed(0)
    model = build(ours, None)
    missing, unexpected = model.load_state_dict(ref.state_dict(),
                                                strict=False)
    assert not unexpected and not missing
    return ref.train(), model.train()


def _simclr(cls, kw, toy=False, **extra):
    kw = dict(kw or {}, **extra)
    if toy:
        return cls(backbone=ToyBackbone(), neck=ToyNeck(), head=SIMCLR_HEAD,
                   **kw)
    return cls(backbone=BACKBONE, neck=LATENT_NECK, head=SIMCLR_HEAD, **kw)


def _simsiam(cls, kw, **extra):
    head = dict(type='LatentPredictHead', predictor=PREDICTOR,
                loss=dict(type='CosineSimilarityLoss'))
    return cls(backbone=BACKBONE, neck=LATENT_NECK, head=head,
               **dict(kw or {}, **extra))


def _byol(cls, kw, **extra):
    head = dict(type='LatentPredictHead', predictor=PREDICTOR,
                loss=dict(type='CosineSimilarityLoss', shift_factor=2.,
                          scale_factor=2.))
    return cls(backbone=BACKBONE, neck=LATENT_NECK, head=head,
               base_momentum=0.01, **dict(kw or {}, **extra))


def _moco(cls, kw, **extra):
    head = dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                temperature=0.2)
    return cls(backbone=BACKBONE, neck=MOCO_NECK, head=head, queue_len=16,
               feat_dim=8, momentum=0.01, **dict(kw or {}, **extra))


def _total(losses):
    return sum(v for k, v in losses.items() if 'loss' in k)


def test_registered():
    with DefaultScope.overwrite_default_scope('mmmix'):
        for cls in (A2SimCLR, A2SimSiam, A2MoCoV2, A2BYOL):
            assert MODELS.get(cls.__name__) is cls


# ----------------------------------------------------------------- SimCLR
def test_simclr_no_generated_view_is_stock_simclr():
    ref, model = _pair(SimCLR, A2SimCLR, lambda c, kw: _simclr(
        c, kw, **({} if kw == {} else dict(base_loss='ntxent'))))
    views = _views(2)
    want = ref.loss(views, None)['loss']
    out = model.loss(views, None)
    assert set(out) == {'loss_cl', 'loss_align'}
    torch.testing.assert_close(out['loss_cl'], want, atol=1e-6, rtol=1e-6)
    assert float(out['loss_align'].detach()) == 0.


@pytest.mark.parametrize('mode', ['concat', 'separate'])
def test_simclr_alpha_zero_is_stock_simclr(mode):
    """BN-free model: the generated views change nothing when alpha = 0."""
    ref, model = _pair(SimCLR, A2SimCLR, lambda c, kw: _simclr(
        c, kw, toy=True, **({} if kw == {} else dict(
            base_loss='ntxent', alpha=0., forward_mode=mode))))
    views = _views(4)
    want = ref.loss(views[:2], None)['loss']
    torch.testing.assert_close(_total(model.loss(views, None)), want,
                               atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize('base_loss,anchors', [
    ('infonce', 'all'), ('infonce', 'first'), ('ntxent', 'all'),
    ('a2_full', 'all')])
def test_simclr_losses_match_the_ops(base_loss, anchors):
    torch.manual_seed(0)
    model = _simclr(A2SimCLR, dict(base_loss=base_loss, align_anchors=anchors,
                                   alpha=0.7, loss_weight=2.), toy=True)
    views = _views(4)  # two generated views
    out = model.loss(views, None)
    with torch.no_grad():
        z = [model.neck(model.backbone(v))[0] for v in views]
    tau = 0.5
    if base_loss == 'a2_full':
        assert set(out) == {'loss_cl'}
        torch.testing.assert_close(out['loss_cl'],
                                   2 * a2_full_loss(z[0], z[1], z[2:], tau))
        return
    cl = cross_view_infonce if base_loss == 'infonce' else nt_xent
    torch.testing.assert_close(out['loss_cl'], 2 * cl(z[0], z[1], tau))
    torch.testing.assert_close(
        out['loss_align'],
        -2 * alignment_term(z[0], z[1], z[2:], 0.7, tau, anchors))


@pytest.mark.parametrize('base_loss', ['infonce', 'ntxent', 'a2_full'])
def test_simclr_generated_views_only_in_the_alignment(base_loss):
    torch.manual_seed(0)
    model = _simclr(A2SimCLR, dict(base_loss=base_loss), toy=True)
    views = _views(3)
    out = model.loss(views, None)
    other = model.loss(views[:2] + _views(1, seed=7), None)
    if base_loss == 'a2_full':  # generated rows are anchors / negatives
        assert not torch.allclose(out['loss_cl'], other['loss_cl'])
    else:
        torch.testing.assert_close(out['loss_cl'], other['loss_cl'])
        assert not torch.allclose(out['loss_align'], other['loss_align'])


def test_simclr_gradients_reach_every_view():
    torch.manual_seed(0)
    model = _simclr(A2SimCLR, dict(forward_mode='separate'), toy=True)
    views = [v.requires_grad_(True) for v in _views(3)]
    model.loss(views, None)['loss_align'].backward()
    assert all(v.grad.abs().sum() > 0 for v in views)
    # view-1 anchors only: the alignment does not reach view 2
    model.align_anchors = 'first'
    views = [v.detach().requires_grad_(True) for v in views]
    model.loss(views, None)['loss_align'].backward()
    assert views[1].grad is None
    assert views[0].grad.abs().sum() > 0 and views[2].grad.abs().sum() > 0


def test_simclr_forward_modes():
    calls = []
    torch.manual_seed(0)
    model = _simclr(A2SimCLR, {})
    model.backbone.register_forward_hook(
        lambda m, i, o: calls.append(i[0].shape[0]))
    views = _views(4)
    concat = model.loss(views, None)
    assert calls == [4 * B]
    calls.clear()
    model.forward_mode = 'separate'
    separate = model.loss(views, None)
    assert calls == [B] * 4
    # with BN in train mode the batching changes the embeddings
    assert not torch.allclose(concat['loss_cl'], separate['loss_cl'])
    # without BN it does not
    torch.manual_seed(0)
    toy = _simclr(A2SimCLR, {}, toy=True)
    a = toy.loss(views, None)
    toy.forward_mode = 'separate'
    b = toy.loss(views, None)
    for key in a:
        torch.testing.assert_close(a[key], b[key])
    # separate mode accepts generated views of another size
    toy.loss(_views(2) + _views(1, size=S + 4), None)
    toy.forward_mode = 'concat'
    with pytest.raises(ValueError, match="forward_mode='concat' needs"):
        toy.loss(_views(2) + _views(1, size=S + 4), None)


def test_simclr_temperature_and_arguments():
    model = A2SimCLR(backbone=ToyBackbone(), neck=ToyNeck())
    assert model.temperature == 0.5  # no head: the default
    head = dict(SIMCLR_HEAD, temperature=0.2)
    assert A2SimCLR(backbone=ToyBackbone(), neck=ToyNeck(),
                    head=head).temperature == 0.2
    with pytest.raises(ValueError, match='differs from the head'):
        A2SimCLR(backbone=ToyBackbone(), neck=ToyNeck(), head=head,
                 temperature=0.5)
    for kw, match in ((dict(base_loss='supcon'), 'base_loss must be one of'),
                      (dict(forward_mode='x'), 'forward_mode must be one of'),
                      (dict(align_anchors='x'), 'align_anchors must be one'),
                      (dict(alpha=-1), 'alpha must be >= 0'),
                      (dict(loss_weight=-1), 'loss_weight must be >= 0'),
                      (dict(temperature=0), 'temperature must be > 0')):
        with pytest.raises(ValueError, match=match):
            A2SimCLR(backbone=ToyBackbone(), neck=ToyNeck(), **kw)
    with pytest.raises(ValueError, match=r'>= 2 view batches .* got 1'):
        model.loss(_views(1), None)
    with pytest.raises(ValueError, match=r'inputs\[2\] has batch size 2'):
        model.loss(_views(2) + [_views(1)[0][:2]], None)


# ------------------------------------------------- SimSiam, BYOL and MoCo
def _latent_reference(model, views, byol=False):
    """Eq. 16 recomputed from the modules: alpha * mean over the anchors of
    -cos (SimSiam) or 2 - 2 cos (BYOL) of pred(online(g)) and the expert
    targets (one batch per expert view, all generated views in one)."""
    with torch.no_grad():
        enc = (lambda x: model.target_net(x)[0]) if byol else \
            (lambda x: model.neck(model.backbone(x))[0])
        t1, t2 = enc(views[0]), enc(views[1])
        g = model.neck(model.backbone(torch.cat(views[2:])))[0]
        p = model.head.predictor([g])[0].view(len(views) - 2, B, -1)
        cos = [F.cosine_similarity(p, t[None], dim=-1).mean()
               for t in (t1, t2)]
        d = [2 - 2 * c for c in cos] if byol else [-c for c in cos]
        return model.alpha * (d[0] + d[1]) / 2


@pytest.mark.parametrize('base,ours,build', [
    (SimSiam, A2SimSiam, _simsiam), (BYOL, A2BYOL, _byol),
    (MoCo, A2MoCoV2, _moco)])
@pytest.mark.parametrize('k', [0, 2])
def test_alpha_zero_or_no_generated_view_is_the_base(base, ours, build, k,
                                                     hub):
    ref, model = _pair(base, ours, lambda c, kw: build(
        c, kw, **({} if kw == {} else dict(alpha=0. if k else 0.5))))
    views = _views(2 + k)
    torch.manual_seed(3)
    want = ref.loss(views[:2], None)['loss']
    torch.manual_seed(3)
    out = model.loss(views, None)
    # not 'loss': mmengine's parse_losses logs the total under that key
    assert set(out) == {'loss_base', 'loss_align'}
    torch.testing.assert_close(out['loss_base'], want, atol=1e-6, rtol=1e-6)
    assert float(out['loss_align'].detach()) == 0.
    if base is MoCo:  # generated keys are never enqueued
        torch.testing.assert_close(model.queue, ref.queue, atol=1e-6,
                                   rtol=1e-6)
        assert int(model.queue_ptr) == int(ref.queue_ptr) == B


@pytest.mark.parametrize('build,cls', [(_simsiam, A2SimSiam),
                                       (_byol, A2BYOL)])
def test_latent_alignment_formula(build, cls, hub):
    torch.manual_seed(0)
    model = build(cls, dict(alpha=0.7)).train()
    views = _views(4)
    ref = copy.deepcopy(model)
    out = model.loss(views, None)
    if cls is A2BYOL:  # the reference target net after the one update
        ref.target_net.update_parameters(nn.Sequential(ref.backbone,
                                                       ref.neck))
    want = _latent_reference(ref, views, byol=cls is A2BYOL)
    torch.testing.assert_close(out['loss_align'], want, atol=1e-6,
                               rtol=1e-6)
    assert out['loss_align'].requires_grad


@pytest.mark.parametrize('build,cls', [(_simsiam, A2SimSiam),
                                       (_byol, A2BYOL), (_moco, A2MoCoV2)])
def test_stop_gradient_of_the_alignment(build, cls, hub):
    """The alignment term reaches the generated view (or the query) and
    never the stop-gradient targets."""
    torch.manual_seed(0)
    model = build(cls, {}).train()
    views = [v.requires_grad_(True) for v in _views(3)]
    model.loss(views, None)['loss_align'].backward()
    if cls is A2MoCoV2:  # q from view 1 against keys of the generated view
        live, dead = views[:1], views[1:]
    else:
        live, dead = views[2:], views[:2]
    assert all(v.grad is not None and v.grad.abs().sum() > 0 for v in live)
    assert all(v.grad is None or not v.grad.any() for v in dead)
    if cls is not A2SimSiam:
        target = model.target_net if cls is A2BYOL else model.encoder_k
        assert all(p.grad is None for p in target.parameters())


def test_latent_first_anchor_only(hub):
    torch.manual_seed(0)
    model = _simsiam(A2SimSiam, dict(align_anchors='first'))
    ref = copy.deepcopy(model).train()
    views = _views(3)
    out = model.train().loss(views, None)
    with torch.no_grad():
        t1 = ref.neck(ref.backbone(views[0]))[0]
        p = ref.head.predictor([ref.neck(ref.backbone(views[2]))[0]])[0]
    torch.testing.assert_close(
        out['loss_align'], -0.5 * F.cosine_similarity(p, t1).mean(),
        atol=1e-6, rtol=1e-6)


def test_moco_alignment_formula_and_queue(hub):
    torch.manual_seed(0)
    model = _moco(A2MoCoV2, dict(alpha=0.6)).train()
    assert model.temperature == 0.2  # from the head
    ref = copy.deepcopy(model)
    views = _views(4)
    queue = model.queue.clone()
    out = model.loss(views, None)
    ref.encoder_k.update_parameters(nn.Sequential(ref.backbone, ref.neck))
    with torch.no_grad():
        q = F.normalize(ref.neck(ref.backbone(views[0]))[0], dim=1)
        k = F.normalize(ref.encoder_k(views[1])[0], dim=1)
        kg = F.normalize(ref.encoder_k(torch.cat(views[2:]))[0], dim=1)
    kg = kg.view(2, B, -1)
    want = -(0.6 / 0.2) * (q[None] * kg).sum(-1).mean()
    torch.testing.assert_close(out['loss_align'], want, atol=1e-5,
                               rtol=1e-5)
    # only the view-2 keys entered the queue, at the pointer
    torch.testing.assert_close(model.queue[:, :B], k.t(), atol=1e-5,
                               rtol=1e-5)
    torch.testing.assert_close(model.queue[:, B:], queue[:, B:])
    assert int(model.queue_ptr) == B
    with pytest.raises(ValueError, match='differs from the head'):
        _moco(A2MoCoV2, dict(temperature=0.5))


# ------------------------------------------------------------- train step
@pytest.mark.parametrize('build,cls', [
    (lambda c, kw: _simclr(c, kw), A2SimCLR), (_simsiam, A2SimSiam),
    (_byol, A2BYOL), (_moco, A2MoCoV2)])
def test_train_step_through_the_preprocessor(build, cls, hub):
    torch.manual_seed(0)
    model = build(cls, {})
    g = torch.Generator().manual_seed(0)
    data = dict(inputs=[torch.randint(0, 256, (B, 3, S, S), generator=g,
                                      dtype=torch.uint8) for _ in range(3)],
                data_samples=[DataSample() for _ in range(B)])
    optim = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    before = copy.deepcopy(model.backbone.state_dict())
    for _ in range(2):
        log = model.train_step(data, optim)
        assert torch.isfinite(log['loss'])
        parts = [v for k, v in log.items() if k != 'loss' and 'loss' in k]
        assert 'loss_align' in log and len(parts) == 2
        # the logged total is the optimised sum, not one part
        torch.testing.assert_close(log['loss'], sum(parts))
    after = model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before
               if after[k].is_floating_point())
