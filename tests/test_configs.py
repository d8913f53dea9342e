"""Every config under configs/ parses and builds (datasets swapped for
generated ones in the same format)."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmmix.datasets.fashion_mnist import DEBIAN_FASHION_MNIST
from mmmix.engine import build_runner
from mmmix.utils import register_all_modules
from tests.conftest import ROOT

register_all_modules(init_default_scope=False)
CONFIGS = sorted(
    f for f in glob.glob(osp.join(ROOT, 'configs', '**', '*.py'),
                         recursive=True) if '_base_' not in f)


def swap_data_roots(node, fixtures):
    """Point every dataset at generated data of the same format."""
    if isinstance(node, dict):
        if node.get('data_root') == DEBIAN_FASHION_MNIST:
            node['data_root'] = fixtures['fashion_mnist']
        for value in node.values():
            swap_data_roots(value, fixtures)
    elif isinstance(node, (list, tuple)):
        for value in node:
            swap_data_roots(value, fixtures)


def test_configs_found():
    assert CONFIGS, 'no configs found'


@pytest.mark.parametrize(
    'path', CONFIGS, ids=[osp.relpath(c, ROOT) for c in CONFIGS])
def test_config_builds(path, fashion_root, tmp_path):
    cfg = Config.fromfile(path)
    swap_data_roots(cfg._cfg_dict, dict(fashion_mnist=fashion_root))
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key):
            cfg[key].update(batch_size=2, num_workers=0,
                            persistent_workers=False)
    runner = build_runner(cfg)
    loader = runner.build_dataloader(cfg.train_dataloader)
    batch = next(iter(loader))
    model = runner.model
    model.train()
    with torch.no_grad():
        data = model.data_preprocessor(batch, True)
        losses = model(**data, mode='loss')
    assert losses and all(torch.isfinite(v).all() for v in losses.values()
                          if torch.is_tensor(v))
