"""GANOptimWrapperConstructor: one optimiser wrapper per named child, each
holding exactly that child's parameters (per-child paramwise_cfg), none
for unnamed children (the EMA generator); built by mmengine's
build_optim_wrapper from a config; bad entries raise."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import OptimWrapperDict, build_optim_wrapper
from mmengine.registry import DefaultScope

from mmmix.engine.optimizers import GANOptimWrapperConstructor
from mmmix.models.generators import GAN
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)

TINY = dict(resolution=8, img_channels=1, channel_base=64, channel_max=8)


def _gan():
    torch.manual_seed(0)
    return GAN(dict(type='mmmix.StyleGAN2Generator', z_dim=4, w_dim=8,
                    **TINY),
               dict(type='mmmix.StyleGAN2Discriminator', **TINY))


def _ids(wrapper):
    return [id(p) for g in wrapper.optimizer.param_groups
            for p in g['params']]


def test_one_wrapper_per_sub_network():
    model = _gan()
    cfg = dict(
        constructor='mmmix.GANOptimWrapperConstructor',
        generator=dict(type='OptimWrapper',
                       optimizer=dict(type='Adam', lr=0.002,
                                      betas=(0., 0.99))),
        discriminator=dict(type='OptimWrapper',
                           optimizer=dict(type='SGD', lr=0.01)))
    with DefaultScope.overwrite_default_scope('mmmix'):  # as the Runner
        wrappers = build_optim_wrapper(model, cfg)
    assert isinstance(wrappers, OptimWrapperDict)
    assert set(wrappers.keys()) == {'generator', 'discriminator'}
    g, d = wrappers['generator'], wrappers['discriminator']
    assert isinstance(g.optimizer, torch.optim.Adam)
    assert isinstance(d.optimizer, torch.optim.SGD)
    assert g.optimizer.defaults['betas'] == (0., 0.99)
    for wrapper, child in ((g, model.generator), (d, model.discriminator)):
        ids = _ids(wrapper)
        assert len(ids) == len(set(ids))
        assert set(ids) == {id(p) for p in child.parameters()}
    ema = {id(p) for p in model.generator_ema.parameters()}
    assert ema and not ema & (set(_ids(g)) | set(_ids(d)))
    # one step of each touches its own sub-network only
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss = model.discriminator(torch.randn(4, 1, 8, 8)).sum()
    d.update_params(loss)
    after = model.state_dict()
    for k, v in before.items():
        assert torch.equal(v, after[k]) == (not k.startswith(
            'discriminator.')), k


def test_paramwise_cfg_per_sub_network():
    model = _gan()
    ctor = GANOptimWrapperConstructor(
        dict(generator=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.1),
            paramwise_cfg=dict(custom_keys={'mapping_net':
                                            dict(lr_mult=0.01)}))))
    wrappers = ctor(model)
    assert set(wrappers.keys()) == {'generator'}
    mapping = {id(p) for p in model.generator.mapping_net.parameters()}
    lrs = {}
    for group in wrappers['generator'].optimizer.param_groups:
        for p in group['params']:
            lrs[id(p)] = group['lr']
    assert set(lrs) == {id(p) for p in model.generator.parameters()}
    for pid, lr in lrs.items():
        assert lr == pytest.approx(0.001 if pid in mapping else 0.1)


def test_model_wrapper_is_unwrapped():
    model = _gan()

    class Wrapped(nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    ctor = GANOptimWrapperConstructor(
        dict(discriminator=dict(optimizer=dict(type='SGD', lr=0.1))))
    wrappers = ctor(Wrapped(model))
    assert set(_ids(wrappers['discriminator'])) == {
        id(p) for p in model.discriminator.parameters()}


def test_bad_entries_raise():
    with pytest.raises(KeyError, match="'critic' names no sub-module"):
        GANOptimWrapperConstructor(
            dict(critic=dict(optimizer=dict(type='SGD', lr=0.1))))(_gan())
    with pytest.raises(ValueError, match='paramwise_cfg'):
        GANOptimWrapperConstructor(
            dict(generator=dict(optimizer=dict(type='SGD', lr=0.1))),
            paramwise_cfg=dict(norm_decay_mult=0.))
    with pytest.raises(ValueError, match='at least one'):
        GANOptimWrapperConstructor({})
