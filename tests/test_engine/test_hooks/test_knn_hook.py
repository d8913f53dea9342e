import json
import os.path as osp

import pytest

from mmmix.engine import build_runner
from mmmix.engine.hooks import KNNEvalHook
from mmmix.utils import register_all_modules
from tests.conftest import tiny_quickstart_cfg

register_all_modules(init_default_scope=False)


def test_hook_logs_three_rows_and_survives_resume(fashion_root, tmp_path):
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path, max_epochs=1,
                              eval_before_train=True, raw_pixel_baseline=True)
    runner = build_runner(cfg)
    runner.train()
    with open(osp.join(tmp_path, 'knn_summary.json')) as f:
        summary = json.load(f)
    assert [r['tag'] for r in summary['history']] == \
        ['raw_pixels', 'init', 'trained']
    assert summary['trained']['epoch'] == 1
    assert summary['trained']['iter'] == runner.iter
    # the generated classes are bars at different columns: pixels separate
    # them perfectly, so the pixel baseline must be (near) perfect
    assert summary['raw_pixels']['top1_k5'] > 95
    for tag in ('init', 'trained'):
        assert 0 <= summary[tag]['top1_k5'] <= 100

    # resume for one more epoch: no second 'init' row, history carried over
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path, max_epochs=2,
                              eval_before_train=True, raw_pixel_baseline=True)
    cfg.resume = True
    runner = build_runner(cfg)
    runner.train()
    with open(osp.join(tmp_path, 'knn_summary.json')) as f:
        summary = json.load(f)
    assert [r['tag'] for r in summary['history']] == \
        ['raw_pixels', 'init', 'trained', 'trained']
    assert summary['trained']['epoch'] == 2


@pytest.mark.parametrize('kwargs, match', [
    (dict(interval=0), 'interval'),
    (dict(temperature=0), 'temperature'),
    (dict(num_neighbors=(0, 5)), 'num_neighbors'),
    (dict(topk=(1, 5), num_classes=3), 'topk'),
    (dict(bank_dataloader=None), 'bank_dataloader'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    args = dict(bank_dataloader=dict(dataset=dict()),
                query_dataloader=dict(dataset=dict()))
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        KNNEvalHook(**args)
