import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmmix.engine import build_runner, resolve_collate_fn
from mmmix.utils import register_all_modules
from tests.conftest import QUICKSTART, tiny_quickstart_cfg

register_all_modules(init_default_scope=False)


class Interrupted(Exception):
    pass


class Interrupt(Hook):
    def after_train_epoch(self, runner):
        raise Interrupted


def losses(runner):
    return runner.message_hub.get_scalar('train/loss').data[0].tolist()


def test_quickstart_inherits_mmpretrain_with_scope_on_collate():
    cfg = Config.fromfile(QUICKSTART)
    assert cfg.train_dataloader.collate_fn['_scope_'] == 'mmpretrain'
    fn = resolve_collate_fn(cfg.train_dataloader.collate_fn)
    batch = fn([dict(x=torch.ones(2)), dict(x=torch.zeros(2))])
    assert batch['x'].shape == (2, 2)
    with pytest.raises(KeyError, match="collate_fn.type='nope'"):
        resolve_collate_fn(dict(type='nope'))


def test_train_then_resume_equals_straight_run(fashion_root, tmp_path):
    straight = build_runner(
        tiny_quickstart_cfg(fashion_root, tmp_path / 'straight'))
    straight.train()
    first = build_runner(
        tiny_quickstart_cfg(fashion_root, tmp_path / 'split'))
    first.register_hook(Interrupt(), priority='LOWEST')
    with pytest.raises(Interrupted):  # killed after epoch 1 was saved
        first.train()
    n1 = len(losses(first))
    assert n1 == len(losses(straight)) // 2 > 0
    assert osp.isfile(tmp_path / 'split' / 'epoch_1.pth')

    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'split')
    cfg.resume = True
    resumed = build_runner(cfg)
    resumed.train()
    assert resumed.iter == straight.iter
    a, b = losses(straight), losses(resumed)
    assert len(a) == len(b)
    torch.testing.assert_close(torch.tensor(b), torch.tensor(a), rtol=0,
                               atol=1e-6)
    for (k, va), vb in zip(straight.model.state_dict().items(),
                           resumed.model.state_dict().values()):
        torch.testing.assert_close(vb, va, msg=k)


def test_unknown_component_and_bad_field_fail_at_build(fashion_root,
                                                       tmp_path):
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'a')
    cfg.model.type = 'NoSuchAlgorithm'
    with pytest.raises(KeyError, match='NoSuchAlgorithm'):
        build_runner(cfg)
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'b', interval=0)
    with pytest.raises(ValueError, match='interval must be an integer >= 1'):
        build_runner(cfg).train()
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'c')
    cfg.model.neck.not_a_field = 3
    with pytest.raises(TypeError, match='not_a_field'):
        build_runner(cfg)


def test_build_model_from_cfg_merges_the_preprocessor_and_loads(tmp_path):
    import torch
    from mmengine.config import Config

    from mmmix.engine import build_model_from_cfg
    cfg = Config(dict(
        default_scope='mmmix',
        model=dict(type='ImageClassifier',
                   backbone=dict(type='mmmix.PreActResNet', base_channels=4,
                                 in_channels=1),
                   neck=dict(type='GlobalAveragePooling'),
                   head=dict(type='LinearClsHead', num_classes=3,
                             in_channels=32)),
        data_preprocessor=dict(type='ClsDataPreprocessor', mean=[10.0],
                               std=[2.0], to_rgb=False)))
    model = build_model_from_cfg(cfg)
    assert not model.training
    assert model.data_preprocessor.mean.flatten().tolist() == [10.0]
    torch.save({'state_dict': {k: torch.full_like(v, 0.5)
                               for k, v in model.state_dict().items()}},
               tmp_path / 'ckpt.pth')
    loaded = build_model_from_cfg(cfg, str(tmp_path / 'ckpt.pth'))
    assert torch.all(loaded.head.fc.weight == 0.5)


def test_find_hook_cfg_with_or_without_scope():
    from mmengine.config import Config

    from mmmix.engine import find_hook_cfg
    cfg = Config(dict(custom_hooks=[dict(type='mmmix.KNNEvalHook', a=1),
                                    dict(type='CLIMHook', b=2)]))
    assert find_hook_cfg(cfg, 'KNNEvalHook')['a'] == 1
    assert find_hook_cfg(cfg, 'CLIMHook')['b'] == 2
    with pytest.raises(ValueError, match='no InterCLRHook'):
        find_hook_cfg(cfg, 'InterCLRHook')


def test_build_eval_loader_keeps_order_and_subsamples():
    from mmengine.registry import DefaultScope

    from mmmix.engine import build_eval_loader
    cfg = dict(batch_size=4, num_workers=0,
               sampler=dict(type='DefaultSampler', shuffle=True),
               collate_fn=dict(type='default_collate'),
               dataset=dict(type='mmmix.NoiseDataset', num_samples=20,
                            shape=(4, 4), pipeline=[dict(type='PackInputs')]))
    with DefaultScope.overwrite_default_scope('mmmix'):
        full = build_eval_loader(cfg)
        sub = build_eval_loader(cfg, max_samples=7, seed=1)
        again = build_eval_loader(cfg, max_samples=7, seed=1)

    def pixels(loader):
        return torch.cat([b['inputs'] for b in loader])

    assert len(full.dataset) == 20 and len(sub.dataset) == 7
    assert torch.equal(pixels(sub), pixels(again))  # seeded
    full_px = pixels(full)
    # the subset is 7 distinct samples of the full set, in dataset order
    idx = [next(i for i in range(20) if torch.equal(full_px[i], x))
           for x in pixels(sub)]
    assert idx == sorted(idx) and len(set(idx)) == 7
