import json
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook

import mmmix.engine.hooks.interclr_hook as hook_module
from mmmix.engine import build_runner
from mmmix.engine.hooks import InterCLRHook
from mmmix.utils import register_all_modules
from tests.conftest import ROOT, short_test_schedule

register_all_modules(init_default_scope=False)

FMNIST = osp.join(ROOT, 'configs/interclr',
                  'interclr-mocov2_resnet18-w16_1xb256-3e_fashionmnist-20k.py')
N = 120  # images of the generated Fashion-MNIST


class _Recorder(Hook):
    """Memory labels, outputs and model weights after every iteration."""
    priority = 'LOWEST'

    def __init__(self):
        self.rows = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        model = runner.model
        change = runner.message_hub.log_scalars.get('train/change_ratio')
        self.rows.append(dict(epoch=runner.epoch, iter=runner.iter,
                              labels=model.memory.labels.clone(),
                              keys=set(outputs),
                              logged_change=None if change is None else
                              len(change.data[0]),
                              pending=model.memory.has_pending,
                              weights=(model.intra_weight,
                                       model.inter_weight)))


def tiny_cfg(data_root, work_dir, max_epochs=2, label_update='online',
             **hook_kwargs):
    cfg = Config.fromfile(FMNIST)
    cfg.work_dir = str(work_dir)
    cfg.model.update(queue_len=32, num_negatives=8, pool_size=16,
                     label_update=label_update)
    cfg.model.memory.update(length=N, num_clusters=4, min_cluster=3)
    cfg.model.backbone.update(stem_channels=4, base_channels=4)
    cfg.model.neck.update(in_channels=32, hid_channels=16)
    cfg.train_dataloader.update(batch_size=16, num_workers=0,
                                persistent_workers=False)
    cfg.train_dataloader.dataset.update(data_root=data_root, indices=None)
    knn, hook = cfg.custom_hooks
    hook.dataloader.update(batch_size=32, num_workers=0)
    hook.dataloader.dataset.update(data_root=data_root, indices=None)
    hook.update(progress=False, centroid_interval=3, stats_interval=2)
    hook.update(hook_kwargs)
    cfg.custom_hooks = [hook]
    return short_test_schedule(cfg, max_epochs)


def _history(work_dir):
    with open(osp.join(work_dir, 'interclr_clusters.json')) as f:
        return json.load(f)


def _count_calls(monkeypatch, obj, name):
    calls = []
    orig = getattr(obj, name)

    def spy(*args, **kwargs):
        calls.append(args)
        return orig(*args, **kwargs)

    monkeypatch.setattr(obj, name, spy)
    return calls


def test_online_schedule(fashion_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(fashion_root, tmp_path, max_epochs=2)
    runner = build_runner(cfg)
    kmeans_calls = _count_calls(monkeypatch, hook_module, 'kmeans')
    recorder = _Recorder()
    runner.register_hook(recorder)
    memory = runner.model.memory
    centroid_iters = []
    orig = memory.update_centroids

    def spy():
        centroid_iters.append(runner.iter)
        orig()

    memory.update_centroids = spy
    runner.train()
    assert len(kmeans_calls) == 1  # init once, before the first step
    iters = [r['iter'] for r in recorder.rows]
    assert len(iters) == 14  # 7 full batches of 16 x 2 epochs
    assert centroid_iters == [2, 5, 8, 11]  # every 3rd iteration
    assert all({'intra_loss', 'inter_loss'} <= r['keys']
               for r in recorder.rows)
    # every step's bank update is committed after it, and its change
    # ratio logged
    assert not any(r['pending'] for r in recorder.rows)
    assert [r['logged_change'] for r in recorder.rows] == list(range(1, 15))
    history = _history(tmp_path)
    assert [h['tag'] for h in history] == ['init', 'epoch', 'epoch']
    assert [h['epoch'] for h in history] == [0, 1, 2]
    assert history[0]['iter'] == 0
    for h in history:
        assert h['empty_num'] == 0 and 0 <= h['nmi'] <= 1
    assert all(0 <= h['change_ratio'] <= 1 for h in history[1:])
    scalars = runner.message_hub.log_scalars
    assert 'train/interclr_max_cluster' in scalars


def test_offline_labels_change_only_at_epoch_ends(fashion_root, tmp_path,
                                                  monkeypatch):
    cfg = tiny_cfg(fashion_root, tmp_path, max_epochs=3,
                   label_update='offline', offline_interval=1)
    runner = build_runner(cfg)
    kmeans_calls = _count_calls(monkeypatch, hook_module, 'kmeans')
    recorder = _Recorder()
    runner.register_hook(recorder)
    runner.train()
    # init + after epochs 1 and 2 (not after the last)
    assert len(kmeans_calls) == 3
    for epoch in range(3):
        rows = [r for r in recorder.rows if r['epoch'] == epoch]
        assert all(torch.equal(r['labels'], rows[0]['labels'])
                   for r in rows)
        assert all(r['logged_change'] is None for r in rows)
    history = _history(tmp_path)
    assert 'relabel_ratio' in history[1]


def test_warmup_turns_the_inter_branch_off(fashion_root, tmp_path):
    cfg = tiny_cfg(fashion_root, tmp_path, max_epochs=2, warmup_epochs=1)
    runner = build_runner(cfg)
    recorder = _Recorder()
    runner.register_hook(recorder)
    runner.train()
    for r in recorder.rows:
        if r['epoch'] == 0:
            assert r['weights'] == (1., 0.) and 'inter_loss' not in r['keys']
        else:
            assert r['weights'] == (0.75, 0.25) and 'inter_loss' in r['keys']


def test_resume_restores_the_memory(fashion_root, tmp_path, monkeypatch):
    cfg = tiny_cfg(fashion_root, tmp_path, max_epochs=1)
    runner = build_runner(cfg)
    runner.train()
    saved = torch.load(osp.join(tmp_path, 'epoch_1.pth'),
                       weights_only=False)['memory_bank']
    memory = runner.model.memory
    for name in ('feats', 'labels', 'centroids'):
        assert torch.equal(saved[name], getattr(memory, name))
    assert not any(k.startswith('memory.') for k in
                   torch.load(osp.join(tmp_path, 'epoch_1.pth'),
                              weights_only=False)['state_dict'])

    cfg = tiny_cfg(fashion_root, tmp_path, max_epochs=2)
    cfg.resume = True
    runner = build_runner(cfg)
    kmeans_calls = _count_calls(monkeypatch, hook_module, 'kmeans')
    state = {}

    class _Check(Hook):
        def before_train_epoch(self, runner):
            state.update(runner.model.memory.state())

    runner.register_hook(_Check(), priority='LOWEST')
    runner.train()
    assert not kmeans_calls  # restored, not re-clustered
    for name in ('feats', 'labels', 'centroids'):
        assert torch.equal(state[name], saved[name])
    history = _history(tmp_path)
    assert [h['tag'] for h in history] == ['init', 'epoch', 'resumed',
                                           'epoch']


def test_memory_length_must_match_the_dataset(fashion_root, tmp_path):
    cfg = tiny_cfg(fashion_root, tmp_path)
    cfg.model.memory.length = N + 8
    runner = build_runner(cfg)
    with pytest.raises(ValueError, match='memory.length=128'):
        runner.train()


@pytest.mark.parametrize('kwargs,match', [
    (dict(feat_source='key'), 'feat_source'),
    (dict(centroid_interval=0), 'centroid_interval'),
    (dict(warmup_epochs=-1), 'warmup_epochs'),
])
def test_bad_arguments_name_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        InterCLRHook(dataloader={}, **kwargs)
