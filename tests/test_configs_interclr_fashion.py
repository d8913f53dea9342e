"""The Fashion-MNIST InterCLR / NPID configs train for an epoch here (tiny
network, the generated 120-image Fashion-MNIST) and keep their memory."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmix.engine import build_runner
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)

CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs/interclr',
                                    '*fashionmnist*.py')))
N = 120


def test_all_fashion_configs_found():
    names = {osp.basename(c).split('_')[0] for c in CONFIGS}
    assert names == {'interclr-mocov2', 'interclr-byol', 'interclr-npidv2',
                     'npidv2'}


@pytest.mark.parametrize('path', CONFIGS,
                         ids=[osp.basename(c) for c in CONFIGS])
def test_fashion_config_trains_an_epoch(path, fashion_root, tmp_path):
    cfg = Config.fromfile(path)
    model = cfg.model
    model.backbone.update(stem_channels=4, base_channels=4)
    model.neck.update(in_channels=32, hid_channels=16)
    if 'queue_len' in model:
        model.queue_len = 32
    if 'predictor' in model.get('head', {}):
        model.head.predictor.update(hid_channels=16)
    model.memory.length = N
    if model.memory.get('num_clusters'):
        model.memory.update(num_clusters=4, min_cluster=3)
    if 'num_negatives' in model:
        model.num_negatives = 8
    if 'pool_ratio' in model:
        model.pool_size = 16
    cfg.train_dataloader.update(batch_size=16, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=fashion_root,
                                        indices=None)
    hooks = [h for h in cfg.custom_hooks
             if not h.type.endswith('KNNEvalHook')]
    for hook in hooks:
        if 'dataloader' in hook:
            hook.dataloader.update(batch_size=32, num_workers=0)
            hook.dataloader.dataset.update(data_root=fashion_root,
                                           indices=None)
            hook.progress = False
    assert len(hooks) == 1  # the memory's hook
    cfg.custom_hooks = hooks
    cfg.train_cfg.max_epochs = 1
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.)]
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    runner = build_runner(cfg)
    runner.train()
    memory = runner.model.memory
    assert not memory.has_pending
    saved = torch.load(osp.join(tmp_path, 'epoch_1.pth'),
                       weights_only=False)['memory_bank']
    assert torch.equal(saved['feats'], memory.feats)
    torch.testing.assert_close(memory.feats.norm(dim=1), torch.ones(N))
    if memory.num_clusters:
        assert memory.labelled and memory.stats()['empty_num'] == 0
