"""Several processes on the CPU (gloo): feature gathering and training."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from tests.conftest import ROOT, tiny_quickstart_cfg


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _extract_worker(rank, world, init_file, data_root, out):
    from mmengine.model import BaseModel

    from mmmix.engine import MMMixRunner, extract_features
    from mmmix.utils import register_all_modules
    register_all_modules()
    dist.init_process_group('gloo', init_method=f'file://{init_file}',
                            rank=rank, world_size=world)

    class PixelModel(BaseModel):

        def __init__(self):
            super().__init__(
                data_preprocessor=dict(type='mmpretrain.ClsDataPreprocessor'))

        def extract_feat(self, x):
            return x.flatten(1) * (1 + rank)  # rank-dependent on purpose

        def forward(self, *args, **kwargs):
            raise NotImplementedError

    loader = MMMixRunner.build_dataloader(
        dict(batch_size=7, num_workers=0,
             sampler=dict(type='DefaultSampler', shuffle=True),
             collate_fn=dict(type='default_collate'),
             dataset=dict(type='mmmix.FashionMNIST', data_root=data_root,
                          split='test', pipeline=[dict(type='PackInputs')])),
        seed=0)
    feats, labels = extract_features(PixelModel(), loader, progress=False)
    torch.save(dict(feats=feats, labels=labels), f'{out}.{rank}')
    dist.destroy_process_group()


def test_extract_features_gathers_in_dataset_order(fashion_root, tmp_path):
    # 40 test images, 2 ranks, shuffled sampler, batches of 7 (padding)
    out = str(tmp_path / 'feats')
    mp.spawn(_extract_worker, nprocs=2,
             args=(2, str(tmp_path / 'init'), fashion_root, out))
    from mmmix.datasets import FashionMNIST
    ds = FashionMNIST(data_root=fashion_root, split='test')
    images = np.stack([ds.get_data_info(i)['img'] for i in range(len(ds))])
    r0, r1 = torch.load(f'{out}.0'), torch.load(f'{out}.1')
    assert torch.equal(r0['feats'], r1['feats'])  # same on every process
    assert r0['feats'].shape == (len(ds), 28 * 28)
    assert r0['labels'].tolist() == ds.get_gt_labels().tolist()
    # each row is its own image, scaled by the rank that extracted it
    flat = torch.from_numpy(images.reshape(len(ds), -1)).float()
    scale = r0['feats'].sum(1) / flat.sum(1)
    assert set(scale.round().tolist()) == {1.0, 2.0}
    torch.testing.assert_close(r0['feats'], flat * scale[:, None])


def test_dist_train_two_processes_on_cpu(fashion_root, tmp_path):
    cfg = tiny_quickstart_cfg(fashion_root, tmp_path / 'work', max_epochs=1,
                              eval_before_train=True)
    # SyncBN (as in many mmpretrain configs) must work without a GPU
    cfg.model.backbone.norm_cfg = dict(type='SyncBN')
    cfg_file = str(tmp_path / 'tiny_cfg.py')
    cfg.dump(cfg_file)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               CUDA_VISIBLE_DEVICES='', OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', osp.join(ROOT, 'tools/dist_train.sh'), cfg_file, '2',
         '--work-dir', str(tmp_path / 'work')],
        env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert osp.isfile(tmp_path / 'work' / 'epoch_1.pth')
    with open(tmp_path / 'work' / 'knn_summary.json') as f:
        summary = json.load(f)
    assert [r['tag'] for r in summary['history']] == \
        ['raw_pixels', 'init', 'trained']
    # 120 train images / (2 processes x batch 8) = 7 iterations (drop_last);
    # one process would take 15
    assert summary['trained']['iter'] == 7
