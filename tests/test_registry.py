import pytest
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmpretrain.registry import HOOKS as MMPRETRAIN_HOOKS
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

from mmmix import registry
from mmmix.utils import register_all_modules

register_all_modules(init_default_scope=False)


def test_every_registry_is_a_child_of_mmpretrain():
    for name in registry.__all__:
        reg = getattr(registry, name)
        assert reg.scope == 'mmmix'
        assert reg.parent is not None
        if name != 'FUNCTIONS':
            assert reg.parent.scope == 'mmpretrain', name


def test_mmpretrain_components_resolve_from_mmmix_scope():
    with DefaultScope.overwrite_default_scope('mmmix'):
        resnet = registry.MODELS.build(dict(type='ResNet_CIFAR', depth=18))
        assert type(resnet).__module__.startswith('mmpretrain')
        hook = registry.HOOKS.build(
            dict(type='KNNEvalHook', bank_dataloader=dict(dataset={}),
                 query_dataloader=dict(dataset={})))
        assert type(hook).__name__ == 'KNNEvalHook'


def test_mmmix_components_resolve_from_mmpretrain_scope_with_prefix():
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        cls = MMPRETRAIN_HOOKS.get('mmmix.KNNEvalHook')
        assert cls is registry.HOOKS.get('KNNEvalHook')
        assert MMPRETRAIN_MODELS.get('MoCo') is not None


def test_cross_package_config_with_custom_imports(tmp_path):
    cfg_file = tmp_path / 'cfg.py'
    cfg_file.write_text(
        "_base_ = 'mmpretrain::mocov2/"
        "mocov2_resnet50_8xb32-coslr-200e_in1k.py'\n"
        "custom_imports = dict(imports=['mmmix'], "
        "allow_failed_imports=False)"
        "\ncustom_hooks = [dict(type='mmmix.RNGStateHook')]\n")
    cfg = Config.fromfile(str(cfg_file))
    assert cfg.model.type == 'MoCo' and cfg.model._scope_ == 'mmpretrain'
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        hook = MMPRETRAIN_HOOKS.build(cfg.custom_hooks[0])
    assert type(hook).__module__.startswith('mmmix')


def test_unknown_name_fails_naming_it():
    with DefaultScope.overwrite_default_scope('mmmix'):
        with pytest.raises(KeyError, match='NoSuchHook'):
            registry.HOOKS.build(dict(type='NoSuchHook'))
