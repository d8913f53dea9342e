import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

from mmmix.engine import build_runner
from mmmix.engine.hooks import CLIMHook
from mmmix.utils import register_all_modules
from tests.conftest import ROOT, short_test_schedule

register_all_modules(init_default_scope=False)

CLIM_FMNIST = osp.join(
    ROOT, 'configs/clim',
    'clim_mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py')


class _RecordPositives(Hook):
    """Checks, in the training loop, what the workers drew."""

    def __init__(self):
        self.rows = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        dataset = runner.train_dataloader.dataset
        table = dataset.table
        for s in data_batch['data_samples']:
            i, j = s.sample_idx, s.pos_idx
            seg = table.members[table.start[i]:table.start[i] +
                                table.count[i]].tolist()
            self.rows.append((runner.epoch, bool(s.has_pos), i, j,
                              j in seg and j != i))


def tiny_clim_cfg(data_root, work_dir, max_epochs=3, num_workers=0,
                  **hook_kwargs):
    cfg = Config.fromfile(CLIM_FMNIST)
    cfg.work_dir = str(work_dir)
    cfg.model.queue_len = 32
    cfg.model.backbone.update(stem_channels=4, base_channels=4)
    cfg.model.neck.update(in_channels=32, hid_channels=16)
    cfg.train_dataloader.update(
        batch_size=8, num_workers=num_workers,
        persistent_workers=num_workers > 0)
    cfg.train_dataloader.dataset.dataset.data_root = data_root
    clim, knn = cfg.custom_hooks
    clim.dataloader.update(batch_size=16, num_workers=0)
    clim.dataloader.dataset.data_root = data_root
    clim.update(num_clusters=4, num_neighbors=10, pool_size=5,
                progress=False)
    clim.update(hook_kwargs)
    for key in ('bank_dataloader', 'query_dataloader'):
        knn[key].update(batch_size=16, num_workers=0)
        knn[key].dataset.data_root = data_root
    knn.update(num_neighbors=(5, ), topk=(1, ), progress=False,
               interval=max_epochs)
    return short_test_schedule(cfg, max_epochs)


def _history(work_dir):
    with open(osp.join(work_dir, 'clim_selection.json')) as f:
        return json.load(f)


def test_schedule_and_persistent_workers_see_tables(fashion_root, tmp_path):
    """Tables before epochs 1 and 2; workers forked at epoch 0 draw from
    them (in-place shared-memory updates)."""
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=3, num_workers=2,
                        interval=1, start_epoch=1)
    runner = build_runner(cfg)
    recorder = _RecordPositives()
    runner.register_hook(recorder)
    runner.train()
    history = _history(tmp_path)
    assert [r['epoch'] for r in history] == [1, 2]
    for r in history:
        assert r['num_clusters'] == 4
        assert 0 <= r['label_precision'] <= 1
        assert r['selection_s'] >= 0
    assert runner.train_dataloader.dataset.version == 2
    by_epoch = {e: [r for r in recorder.rows if r[0] == e] for e in range(3)}
    # before the first table: the anchor is its own positive
    assert all(not has and i == j for _, has, i, j, _ in by_epoch[0])
    # the last epoch's draws all come from the current table
    assert by_epoch[2] and all(has and ok
                               for _, has, _, _, ok in by_epoch[2])
    # well separated generated classes: positives mostly share the label
    assert history[-1]['label_precision'] > 0.5


def test_table_saved_and_restored_on_resume(fashion_root, tmp_path):
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=2, interval=2,
                        start_epoch=0)
    runner = build_runner(cfg)
    runner.train()
    saved = torch.load(osp.join(tmp_path, 'epoch_2.pth'),
                       weights_only=False)['clim_table']
    assert saved['epoch'] == 0
    table = runner.train_dataloader.dataset.table
    assert torch.equal(saved['members'], table.members)

    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=3, interval=2,
                        start_epoch=0)
    cfg.resume = True
    runner = build_runner(cfg)
    hook = [h for h in runner.hooks if isinstance(h, CLIMHook)][0]
    runner.train()
    # resumed at epoch 2 (a selection epoch): restored, then reselected
    assert hook.table_epoch == 2
    assert [r['epoch'] for r in _history(tmp_path)] == [0, 2]


def test_resume_without_table_reselects(fashion_root, tmp_path):
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=1, interval=5,
                        start_epoch=0)
    runner = build_runner(cfg)
    runner.train()
    ckpt = osp.join(tmp_path, 'epoch_1.pth')
    state = torch.load(ckpt, weights_only=False)
    del state['clim_table']
    torch.save(state, ckpt)
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=2, interval=5,
                        start_epoch=0)
    cfg.resume = True
    runner = build_runner(cfg)
    runner.train()
    # epoch 1 is not on the schedule, but without a table one is selected
    assert [r['epoch'] for r in _history(tmp_path)] == [0, 1]


@pytest.mark.parametrize('kwargs, match', [
    (dict(interval=0), 'interval'),
    (dict(start_epoch=-1), 'start_epoch'),
    (dict(mode='nearest'), 'mode'),
    (dict(feat_source='backbone'), 'feat_source'),
    (dict(num_clusters=0), 'num_clusters'),
    (dict(num_neighbors=0), 'num_neighbors'),
    (dict(pool_size=0), 'pool_size'),
    (dict(pool_size=50, num_neighbors=40), 'pool_size'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        CLIMHook(dataloader=dict(), **kwargs)


def test_unwrapped_dataset_is_refused(fashion_root, tmp_path):
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=1)
    inner = cfg.train_dataloader.dataset.dataset
    cfg.train_dataloader.dataset = inner
    runner = build_runner(cfg)
    with pytest.raises(TypeError, match='CLIMPairDataset'):
        runner.train()


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_clusters=500), 'num_clusters=500 exceeds the 120'),
    (dict(num_neighbors=200, pool_size=5), 'num_neighbors=200 needs'),
])
def test_too_small_data_fails_before_training(fashion_root, tmp_path,
                                              kwargs, match):
    cfg = tiny_clim_cfg(fashion_root, tmp_path, max_epochs=1, **kwargs)
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match=match):
        runner.train()
    assert runner.iter == 0
