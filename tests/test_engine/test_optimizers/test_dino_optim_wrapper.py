"""DINO's optimisation pieces (spec U12): per-tensor gradient clipping in
the wrapper's step, the last layer frozen (grad None, so AdamW neither moves
nor decays it) while MessageHub epoch < freeze_last_layer, the constructor
that finds the ``last_layer`` parameters, mmpretrain's
CosineAnnealingWeightDecay keeping the no-decay groups at 0, and the Fashion
config's LR / weight-decay schedules against DINO's ``cosine_scheduler``."""
import copy
import glob
import math
import os.path as osp

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmengine.registry import DefaultScope

from mmmix.engine.optimizers import (
    DINOAmpOptimWrapper,
    DINOOptimWrapper,
    DINOOptimWrapperConstructor,
)
from mmmix.models.heads import DINOHead
from mmmix.registry import OPTIM_WRAPPERS, PARAM_SCHEDULERS
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)

LAST = ('head.last_layer.parametrizations.weight.original0',
        'head.last_layer.parametrizations.weight.original1')
FASHION = sorted(glob.glob(osp.join(ROOT, 'configs', 'dino',
                                    '*fashionmnist*.py')))


class Tiny(nn.Module):
    """Backbone + LayerNorm + DINOHead: every kind of parameter group."""

    def __init__(self, norm_last_layer=False):
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Linear(6, 8)
        self.norm = nn.LayerNorm(8)
        self.head = DINOHead(8, 10, hidden_channels=16,
                             bottleneck_channels=4,
                             norm_last_layer=norm_last_layer)

    def forward(self, x):
        return self.head(self.norm(self.backbone(x)))


def _loss(model, scale=1., seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(5, 6, generator=g)
    target = torch.randn(5, 10, generator=g)
    return scale * (model(x) - target).pow(2).sum()


def _cfg(**kw):
    cfg = dict(type='DINOOptimWrapper',
               constructor='DINOOptimWrapperConstructor',
               per_param_clip=3.0, freeze_last_layer=1,
               optimizer=dict(type='AdamW', lr=0.1, weight_decay=0.04),
               paramwise_cfg=dict(norm_decay_mult=0., bias_decay_mult=0.,
                                  flat_decay_mult=0.))
    cfg.update(kw)
    return cfg


def _build(model, **kw):
    with DefaultScope.overwrite_default_scope('mmmix'):
        return build_optim_wrapper(model, _cfg(**kw))


def _record_step(wrapper, monkeypatch):
    """Grads as the optimizer's step sees them (by parameter name)."""
    seen = []
    real = wrapper.optimizer.step

    def step(*args, **kwargs):
        seen.append([None if p.grad is None else p.grad.clone()
                     for g in wrapper.optimizer.param_groups
                     for p in g['params']])
        return real(*args, **kwargs)

    monkeypatch.setattr(wrapper.optimizer, 'step', step)
    return seen


def _params_in_group_order(wrapper):
    return [p for g in wrapper.optimizer.param_groups for p in g['params']]


# ----------------------------------------------------- per-tensor clipping
def test_step_clips_each_tensor_on_its_own():
    a = nn.Parameter(torch.zeros(3))
    b = nn.Parameter(torch.zeros(2, 2))
    c = nn.Parameter(torch.zeros(4))
    wrapper = DINOOptimWrapper(torch.optim.SGD([a, b, c], lr=0.),
                               per_param_clip=3.0)
    a.grad = torch.tensor([30., 40., 0.])  # norm 50 -> 3
    b.grad = torch.full((2, 2), 1.4)  # norm 2.8: untouched
    c.grad = torch.tensor([0., 0., 3., 4.])  # norm 5 -> 3
    big_b = b.grad.clone()
    wrapper.step()
    torch.testing.assert_close(a.grad, torch.tensor([1.8, 2.4, 0.]))
    torch.testing.assert_close(c.grad, torch.tensor([0., 0., 1.8, 2.4]))
    assert torch.equal(b.grad, big_b)
    # not the global norm: the global norm would scale b as well
    global_norm = math.sqrt(50**2 + 2.8**2 + 5**2)
    assert global_norm > 3
    # lr 0: nothing moved
    assert torch.all(a == 0) and torch.all(c == 0)


def test_per_param_clip_none_leaves_grads():
    a = nn.Parameter(torch.zeros(3))
    wrapper = DINOOptimWrapper(torch.optim.SGD([a], lr=0.),
                               per_param_clip=None)
    a.grad = torch.tensor([30., 40., 0.])
    wrapper.step()
    assert torch.equal(a.grad, torch.tensor([30., 40., 0.]))


def test_update_params_clips_before_the_optimizer_step(monkeypatch,
                                                       hub_epoch):
    hub_epoch(5)  # past the frozen epoch
    model = Tiny()
    wrapper = _build(model, optimizer=dict(type='SGD', lr=0.,
                                           weight_decay=0.))
    ref = copy.deepcopy(model)
    _loss(ref, scale=0.01).backward()
    names = {id(p): n for n, p in model.named_parameters()}
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    seen = _record_step(wrapper, monkeypatch)
    wrapper.update_params(_loss(model, scale=0.01))
    assert len(seen) == 1
    clipped = untouched = 0
    for p, g in zip(_params_in_group_order(wrapper), seen[0]):
        raw = ref_grads[names[id(p)]]
        if raw is None:  # frozen g (norm_last_layer=False: trained)
            assert g is None
            continue
        assert g.norm() <= 3. * (1 + 1e-5)
        if raw.norm() <= 3.:
            assert torch.equal(g, raw), names[id(p)]
            untouched += 1
        else:  # same direction, norm 3
            torch.testing.assert_close(g, raw * (3. / (raw.norm() + 1e-6)))
            clipped += 1
    assert clipped and untouched  # both cases happen
    # update_params zeroes the grads after the step
    assert all(p.grad is None or torch.all(p.grad == 0)
               for p in model.parameters())


# -------------------------------------------------------- frozen last layer
def test_constructor_groups_and_frozen_params():
    model = Tiny()
    wrapper = _build(model)
    assert isinstance(wrapper, DINOOptimWrapper)
    assert (wrapper.per_param_clip, wrapper.freeze_last_layer) == (3.0, 1)
    frozen = {id(p) for p in wrapper.frozen_params}
    assert frozen == {id(p) for n, p in model.named_parameters()
                      if n in LAST}
    names = {id(p): n for n, p in model.named_parameters()}
    decay = {names[id(p)]: g['weight_decay']
             for g in wrapper.optimizer.param_groups for p in g['params']}
    assert decay == {
        'backbone.weight': 0.04, 'backbone.bias': 0.,
        'norm.weight': 0., 'norm.bias': 0.,
        'head.mlp.0.weight': 0.04, 'head.mlp.0.bias': 0.,
        'head.mlp.2.weight': 0.04, 'head.mlp.2.bias': 0.,
        'head.mlp.4.weight': 0.04, 'head.mlp.4.bias': 0.,
        # g (K, 1) and v (K, d) are 2-D: decayed, as in DINO
        LAST[0]: 0.04, LAST[1]: 0.04}
    # with a frozen g (norm_last_layer=True) only v is recorded
    wrapper = _build(Tiny(norm_last_layer=True))
    assert len(wrapper.frozen_params) == 1
    assert wrapper.frozen_params[0].shape == (10, 4)


def test_constructor_unwraps_model_wrappers():
    class Wrapped(nn.Module):
        def __init__(self):
            super().__init__()
            self.module = Tiny()

    wrapped = Wrapped()
    with DefaultScope.overwrite_default_scope('mmmix'):
        wrapper = DINOOptimWrapperConstructor(
            dict(type='DINOOptimWrapper',
                 optimizer=dict(type='SGD', lr=0.1)))(wrapped)
    assert wrapper.set_frozen_params(wrapped.module) == list(LAST)
    assert {id(p) for p in wrapper.frozen_params} == {
        id(p) for n, p in wrapped.module.named_parameters() if n in LAST}


def test_epoch_zero_keeps_last_layer_bit_identical(hub_epoch):
    hub_epoch(0)
    model = Tiny()
    wrapper = _build(model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for seed in range(2):
        wrapper.update_params(_loss(model, seed=seed))
    after = dict(model.named_parameters())
    for name in LAST:
        assert torch.equal(after[name], before[name]), name
        # AdamW skipped them: no moments (and no decoupled decay)
        assert not wrapper.optimizer.state[after[name]]
    for name, p in after.items():
        if name not in LAST:
            assert not torch.equal(p, before[name]), name
    # epoch 1: the same wrapper now trains them
    hub_epoch(1)
    wrapper.update_params(_loss(model, seed=2))
    for name in LAST:
        assert not torch.equal(after[name], before[name]), name
        assert wrapper.optimizer.state[after[name]]


def test_a_zero_grad_would_not_be_the_same():
    """Why grad None: AdamW's decoupled decay moves a zero-grad weight."""
    p = nn.Parameter(torch.ones(3))
    opt = torch.optim.AdamW([p], lr=0.1, weight_decay=0.04)
    p.grad = torch.zeros(3)
    opt.step()
    assert not torch.equal(p, torch.ones(3))


def test_freeze_last_layer_zero_trains_from_the_start(hub_epoch):
    hub_epoch(0)
    model = Tiny()
    wrapper = _build(model, freeze_last_layer=0)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    wrapper.update_params(_loss(model))
    for name in LAST:
        assert not torch.equal(dict(model.named_parameters())[name],
                               before[name])


def test_freeze_longer_than_one_epoch(hub_epoch):
    model = Tiny()
    wrapper = _build(model, freeze_last_layer=2)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for epoch in (0, 1):
        hub_epoch(epoch)
        wrapper.update_params(_loss(model, seed=epoch))
    for name in LAST:
        assert torch.equal(dict(model.named_parameters())[name],
                           before[name])


def test_raises_when_nothing_to_freeze():
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    with pytest.raises(ValueError, match='last_layer'):
        _build(model)
    assert _build(model, freeze_last_layer=0).frozen_params == []
    # another keyword
    wrapper = _build(model, freeze_keyword='1.')
    assert len(wrapper.frozen_params) == 2


@pytest.mark.parametrize('kw,match', [
    (dict(per_param_clip=0.), 'per_param_clip'),
    (dict(per_param_clip=-3.), 'per_param_clip'),
    (dict(freeze_last_layer=-1), 'freeze_last_layer')])
def test_bad_arguments(kw, match):
    p = nn.Parameter(torch.zeros(2))
    with pytest.raises(ValueError, match=match):
        DINOOptimWrapper(torch.optim.SGD([p], lr=0.1), **kw)


def test_registered():
    assert OPTIM_WRAPPERS.get('DINOOptimWrapper') is DINOOptimWrapper
    assert OPTIM_WRAPPERS.get('DINOAmpOptimWrapper') is DINOAmpOptimWrapper


# ------------------------------------------------------------------ AMP
def test_amp_wrapper_needs_an_accelerator_in_mmengine():
    p = nn.Parameter(torch.zeros(2))
    if not torch.cuda.is_available():
        with pytest.raises(AssertionError, match='gpu'):
            DINOAmpOptimWrapper(optimizer=torch.optim.SGD([p], lr=0.))


def _cpu_amp(monkeypatch):
    """mmengine's AmpOptimWrapper asserts an accelerator: patched on CPU."""
    if not torch.cuda.is_available():
        monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                            lambda: True)


@pytest.mark.parametrize('kw', [{}, dict(loss_scale='dynamic')])
def test_amp_wrapper_builds(monkeypatch, kw):
    _cpu_amp(monkeypatch)
    p = nn.Parameter(torch.zeros(2))
    wrapper = DINOAmpOptimWrapper(optimizer=torch.optim.SGD([p], lr=0.),
                                  per_param_clip=3.0, **kw)
    assert wrapper.per_param_clip == 3.0
    assert wrapper.optimizer.param_groups[0]['params'] == [p]


def _amp_wrapper(optimizer, **kw):
    return DINOAmpOptimWrapper(optimizer=optimizer, **kw)


def test_amp_wrapper_unscales_then_clips_and_freezes(monkeypatch,
                                                     hub_epoch):
    """DINO's AMP step on CPU: mmengine's accelerator check is patched and
    a CPU GradScaler (scale 1024) replaces the CUDA one."""
    _cpu_amp(monkeypatch)
    hub_epoch(0)
    model = Tiny()
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = _amp_wrapper(torch.optim.SGD(params, lr=0.),
                           per_param_clip=3.0)
    try:
        wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=1024.)
    except Exception as e:  # pragma: no cover - torch without it
        pytest.skip(f'no CPU GradScaler: {e}')
    assert wrapper.set_frozen_params(model) == list(LAST)
    ref = copy.deepcopy(model)
    _loss(ref, scale=0.01).backward()
    ref_grads = {n: p.grad for n, p in ref.named_parameters()}
    names = {id(p): n for n, p in model.named_parameters()}
    seen = _record_step(wrapper, monkeypatch)
    wrapper.backward(_loss(model, scale=0.01))
    scaled = {n: p.grad.clone() for n, p in model.named_parameters()}
    assert torch.allclose(scaled['backbone.weight'],
                          1024. * ref_grads['backbone.weight'], rtol=1e-4)
    wrapper.step()
    assert len(seen) == 1
    clipped = untouched = 0
    for p, g in zip(params, seen[0]):
        name, raw = names[id(p)], ref_grads[names[id(p)]]
        if name in LAST:  # epoch 0: dropped
            assert g is None
            continue
        assert g.norm() <= 3. * (1 + 1e-5), name
        if raw.norm() <= 3.:
            torch.testing.assert_close(g, raw, rtol=1e-5, atol=1e-7)
            untouched += 1
        else:
            clipped += 1
            torch.testing.assert_close(g, raw * (3. / raw.norm()),
                                       rtol=1e-4, atol=1e-6)
    assert clipped and untouched
    assert wrapper.loss_scaler.get_scale() == 1024.  # no overflow


# ------------------------------------------------------------- schedules
def _fashion_cfg():
    assert len(FASHION) == 1, FASHION
    return Config.fromfile(FASHION[0])


def _dino_cosine_scheduler(base, final, epochs, niter, warmup_epochs=0,
                           start_warmup_value=0.):
    """DINO's utils.cosine_scheduler (numpy-free)."""
    warmup = warmup_epochs * niter
    sched = []
    if warmup_epochs > 0:
        sched = [start_warmup_value + (base - start_warmup_value) * i /
                 (warmup - 1) for i in range(warmup)]
    n = epochs * niter - warmup
    sched += [final + 0.5 * (base - final) * (1 + math.cos(math.pi * i / n))
              for i in range(n)]
    return sched


def _run_schedulers(wrapper, scheduler_cfgs, epoch_length, iters):
    """(lr, weight decays per group) at each iteration, as the runner's
    ParamSchedulerHook steps them (after every iteration)."""
    with DefaultScope.overwrite_default_scope('mmmix'):
        schedulers = [
            PARAM_SCHEDULERS.build(
                copy.deepcopy(dict(s)),
                default_args=dict(optimizer=wrapper,
                                  epoch_length=epoch_length))
            for s in scheduler_cfgs]
    values = []
    for _ in range(iters):
        groups = wrapper.optimizer.param_groups
        values.append((groups[0]['lr'], [g['weight_decay'] for g in groups]))
        wrapper.optimizer.step()
        for s in schedulers:
            s.step()
    return values


def test_cosine_weight_decay_keeps_no_decay_groups_at_zero():
    model = Tiny()
    wrapper = _build(model, freeze_last_layer=0)
    zero = [i for i, g in enumerate(wrapper.optimizer.param_groups)
            if g['weight_decay'] == 0]
    decayed = [i for i, g in enumerate(wrapper.optimizer.param_groups)
               if g['weight_decay'] > 0]
    assert zero and decayed
    epochs, length = 3, 4
    cfg = dict(type='mmpretrain.CosineAnnealingWeightDecay', eta_min=0.4,
               T_max=epochs, by_epoch=True, begin=0, end=epochs,
               convert_to_iter_based=True)
    values = _run_schedulers(wrapper, [cfg], length, epochs * length + 2)
    expect = _dino_cosine_scheduler(0.04, 0.4, epochs, length)
    for it, (_, wds) in enumerate(values):
        assert all(wds[i] == 0 for i in zero), it
        want = expect[min(it, len(expect) - 1)]
        for i in decayed:
            assert wds[i] == pytest.approx(want, rel=1e-9), it
    final = values[-1][1][decayed[0]]
    assert 0.4 - 0.36 * (1 - math.cos(math.pi / 12)) / 2 == \
        pytest.approx(final)
    assert final == pytest.approx(0.4, abs=0.01)
    # the generic parameter scheduler would decay the no-decay groups too
    wrapper = _build(Tiny(), freeze_last_layer=0)
    generic = dict(cfg, type='CosineAnnealingParamScheduler',
                   param_name='weight_decay')
    values = _run_schedulers(wrapper, [generic], length, epochs * length)
    assert values[-1][1][zero[0]] > 0.3


def test_fashion_config_schedules_equal_dino_cosine_scheduler():
    cfg = _fashion_cfg()
    epochs = cfg.train_cfg.max_epochs
    length = 5  # iterations per epoch
    optimizer = copy.deepcopy(dict(cfg.optim_wrapper.optimizer))
    wrapper = _build(Tiny(), freeze_last_layer=0, optimizer=optimizer)
    base_lr = cfg.optim_wrapper.optimizer.lr
    base_wd = cfg.optim_wrapper.optimizer.weight_decay
    values = _run_schedulers(wrapper, cfg.param_scheduler, length,
                             epochs * length)
    warmup_cfg, cosine_cfg = cfg.param_scheduler[:2]
    lr = _dino_cosine_scheduler(
        base_lr, cosine_cfg.eta_min, epochs, length,
        warmup_epochs=warmup_cfg.end,
        start_warmup_value=base_lr * warmup_cfg.start_factor)
    wd = _dino_cosine_scheduler(base_wd, cfg.param_scheduler[2].eta_min,
                                epochs, length)
    assert len(values) == len(lr) == len(wd)
    for it, (got_lr, wds) in enumerate(values):
        assert got_lr == pytest.approx(lr[it], rel=1e-6), it
        assert wds[0] == pytest.approx(wd[it], rel=1e-6), it
        assert min(wds) == 0
    # the peak is reached at the last warm-up iteration, as in DINO
    assert values[length - 1][0] == pytest.approx(base_lr)
    assert values[0][0] == pytest.approx(base_lr * warmup_cfg.start_factor)


def test_optim_wrapper_is_not_the_mmengine_clip():
    """The configs leave mmengine's global-norm clip_grad off."""
    cfg = _fashion_cfg()
    assert cfg.optim_wrapper.get('clip_grad') is None
    assert cfg.optim_wrapper.type == 'DINOOptimWrapper'
    wrapper = _build(Tiny(), **{k: v for k, v in cfg.optim_wrapper.items()
                                if k != 'optimizer'})
    assert isinstance(wrapper, OptimWrapper)
    assert not wrapper.clip_grad_kwargs
