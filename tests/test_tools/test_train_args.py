import importlib.util
import os.path as osp

import pytest
from mmengine.config import Config

from tests.conftest import QUICKSTART, ROOT


def load_tool(name):
    spec = importlib.util.spec_from_file_location(
        name.replace('/', '_'), osp.join(ROOT, 'tools', name))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_train_cli_merges_options():
    train = load_tool('train.py')
    args = train.parse_args([
        QUICKSTART, '--work-dir', 'wd', '--amp', '--resume', '--cfg-options',
        'train_cfg.max_epochs=3', 'model.queue_len=512'
    ])
    cfg = train.merge_args(Config.fromfile(QUICKSTART), args)
    assert cfg.work_dir == 'wd'
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.resume is True and cfg.load_from is None
    assert cfg.train_cfg.max_epochs == 3 and cfg.model.queue_len == 512
    args = train.parse_args([QUICKSTART, '--resume', 'ckpt.pth',
                             '--launcher', 'pytorch'])
    cfg = train.merge_args(Config.fromfile(QUICKSTART), args)
    assert cfg.load_from == 'ckpt.pth' and cfg.launcher == 'pytorch'
    assert cfg.work_dir.endswith(osp.splitext(osp.basename(QUICKSTART))[0])


def test_test_cli_refuses_config_without_test_loop(tmp_path):
    test = load_tool('test.py')
    with pytest.raises(ValueError, match='no test_dataloader'):
        test.main([QUICKSTART, 'ckpt.pth', '--work-dir', str(tmp_path)])


def test_knn_summary_table():
    tool = load_tool('analysis/knn_summary.py')
    rec = dict(epoch=5, iter=10, top1_k20=90.0)
    table = tool.format_summary(
        dict(raw_pixels=dict(rec, top1_k20=85.0), init=rec,
             trained=dict(rec, top1_k20=91.25)))
    lines = table.splitlines()
    assert lines[0] == '| features | top1_k20 |'
    assert lines[2] == '| k-NN on raw pixels | 85.00 |'
    assert lines[4] == '| network after pretraining (5 epochs) | 91.25 |'
