import json
import os.path as osp

import torch

from mmmix.engine import build_model_from_cfg
from tests.test_engine.test_hooks.test_clim_hook import tiny_clim_cfg
from tests.test_tools.test_train_args import load_tool


def test_writes_every_mode_and_the_figure(fashion_root, tmp_path):
    cfg = tiny_clim_cfg(fashion_root, tmp_path / 'work')
    cfg_path = str(tmp_path / 'clim.py')
    cfg.dump(cfg_path)
    model = build_model_from_cfg(cfg)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict(), meta=dict()), ckpt)
    out = tmp_path / 'out'
    tool = load_tool('analysis/clim_selection.py')
    tool.main([cfg_path, ckpt, '--out-dir', str(out), '--num-show', '3'])
    with open(osp.join(out, 'clim_selection.json')) as f:
        summary = json.load(f)
    modes = summary['modes']
    assert set(modes) == {'center_wise', 'knn', 'kmeans', 'random'}
    assert summary['num_samples'] == 120
    # 4 balanced classes: a random positive shares the label with
    # probability 29 / 119 exactly
    assert abs(modes['random']['label_precision'] - 29 / 119) < 1e-6
    # the generated classes are separable even at random init
    assert modes['center_wise']['label_precision'] > \
        modes['random']['label_precision']
    assert -1 <= summary['intra_class_similarity'] <= 1
    assert osp.getsize(osp.join(out, 'clim_positives.png')) > 1000
