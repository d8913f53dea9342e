"""CLIM cost: one positive-selection round, and the training step vs MoCo v2.

Selection: ``--num`` random unit features of ``--dim`` dimensions (a mixture
of Gaussian blobs, so clusters exist) go through one selection round of
:func:`mmmix.ops.select_positives` (faiss k-means with ``--clusters``
clusters and 20 iterations, exact kNN with ``k = --k``, the centre-wise
rule and the pool), timed beside scikit-learn's ``KMeans`` (same clusters,
one init, 20 Lloyd iterations) plus ``NearestNeighbors`` (brute force,
``k + 1``) on the same array: ``selection_s``, ``kmeans_s`` (faiss k-means
alone), ``sklearn_s``, ``sklearn_kmeans_s`` and ``selection_speedup``.

Step: full SGD steps (forward, backward, update) on one random batch of
``--batch`` samples, for five models sharing the backbone and neck:

* ``moco``: mmpretrain's ``MoCo`` (two views at ``--size``);
* ``moco_multires``: ``CLIMMoCo(mix_weight=0)``, i.e. MoCo's loss over all
  resolution pairs of the two views at ``--size`` and ``--small`` px;
* ``clim``: ``CLIMMoCo`` at both resolutions (anchor + mixed queries,
  anchor + positive keys, the default CLIM);
* ``clim_single_res``: ``CLIMMoCo`` at ``--size`` only;
* ``clim_single_res_no_inst``: the same without the instance term.

They are timed round-robin (one step of each in turn, medians over
``--steps`` rounds) so that load changes hit them alike. Ratios:
``step_over_moco`` (clim / moco_multires: same batch and resolutions),
``step_over_moco_single_res`` (clim_single_res / moco),
``step_over_moco_single_res_no_inst`` and ``step_over_plain_moco``
(clim / moco: what CLIM costs over the MoCo one would otherwise run).

The last line printed is a JSON object with all of them.

Usage:
    python tools/benchmarks/clim.py                    # paper-like sizes
    python tools/benchmarks/clim.py --arch resnet18 --size 64 --batch 32 \\
        --num 20000 --clusters 200 --device cpu        # a small CPU run
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch

from mmmix.ops.clustering import kmeans
from mmmix.ops.positive_selection import select_positives
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules


def blobs(num, dim, centers, seed=0):
    rng = np.random.default_rng(seed)
    mu = rng.normal(size=(centers, dim)).astype(np.float32)
    x = mu[rng.integers(0, centers, num)] + 0.5 * rng.normal(
        size=(num, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def time_selection(args) -> dict:
    x = blobs(args.num, args.dim, args.clusters)
    feats = torch.from_numpy(x)
    t = time.perf_counter()
    kmeans(feats, args.clusters, niter=20, seed=0)
    kmeans_s = time.perf_counter() - t
    t = time.perf_counter()
    select_positives(feats, mode='center_wise', num_clusters=args.clusters,
                     num_neighbors=args.k, pool_size=10, seed=0,
                     kmeans_cfg=dict(niter=20))
    selection_s = time.perf_counter() - t
    out = dict(selection_s=selection_s, kmeans_s=kmeans_s)
    if not args.no_sklearn:
        from sklearn.cluster import KMeans
        from sklearn.neighbors import NearestNeighbors
        t = time.perf_counter()
        KMeans(args.clusters, n_init=1, max_iter=20, tol=0.,
               random_state=0).fit(x)
        sk_kmeans = time.perf_counter() - t
        t = time.perf_counter()
        NearestNeighbors(n_neighbors=args.k + 1,
                         algorithm='brute').fit(x).kneighbors(x)
        sk_knn = time.perf_counter() - t
        out.update(sklearn_s=sk_kmeans + sk_knn, sklearn_kmeans_s=sk_kmeans,
                   sklearn_knn_s=sk_knn,
                   selection_speedup=(sk_kmeans + sk_knn) / selection_s,
                   kmeans_speedup=sk_kmeans / kmeans_s)
    return out


def build(kind, args, device):
    depth = int(args.arch.replace('resnet', ''))
    last = 512 if depth < 50 else 2048
    cfg = dict(
        backbone=dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN'),
                      zero_init_residual=False),
        neck=dict(type='MoCoV2Neck', in_channels=last, hid_channels=2048,
                  out_channels=128, with_avg_pool=True),
        head=dict(type='ContrastiveHead', loss=dict(type='CrossEntropyLoss'),
                  temperature=0.2),
        queue_len=args.queue, feat_dim=128, momentum=0.001)
    if kind == 'moco':
        cfg['type'] = 'MoCo'
    else:
        cfg.update(type='mmmix.CLIMMoCo',
                   head=dict(type='mmmix.MixedContrastiveHead',
                             temperature=0.2))
        cfg.update(dict(
            moco_multires=dict(num_resolutions=2, mix_weight=0.),
            clim=dict(num_resolutions=2),
            clim_single_res=dict(num_resolutions=1),
            clim_single_res_no_inst=dict(num_resolutions=1,
                                         use_inst_loss=False))[kind])
    torch.manual_seed(0)
    return MODELS.build(cfg).to(device).train()


def views(kind, args, device):
    g = torch.Generator().manual_seed(1)

    def img(s):
        return torch.randn(args.batch, 3, s, s, generator=g).to(device)

    if kind == 'moco':
        return [img(args.size), img(args.size)]
    sizes = (args.size, ) if 'single' in kind else (args.size, args.small)
    anchor = [img(s) for _ in range(2) for s in sizes]
    if kind == 'moco_multires':
        return anchor
    return anchor + [img(s) for _ in range(2) for s in sizes]


def time_steps(args, device) -> dict:
    kinds = ('moco', 'moco_multires', 'clim', 'clim_single_res',
             'clim_single_res_no_inst')
    models = {k: build(k, args, device) for k in kinds}
    data = {k: views(k, args, device) for k in kinds}
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.03, momentum=0.9,
                               weight_decay=1e-4)
            for k, m in models.items()}
    sync = torch.cuda.synchronize if device.type == 'cuda' else (
        lambda: None)

    def step(k):
        sync()
        t = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=args.amp):
            losses = models[k].loss(data[k], None)
        opts[k].zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        opts[k].step()
        sync()
        return time.perf_counter() - t

    for _ in range(args.warmup):
        for k in kinds:
            step(k)
    times = {k: [] for k in kinds}
    for _ in range(args.steps):
        for k in kinds:
            times[k].append(step(k))
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    out = {f'{k}_ms': v for k, v in ms.items()}
    out.update(
        step_over_moco=ms['clim'] / ms['moco_multires'],
        step_over_moco_single_res=ms['clim_single_res'] / ms['moco'],
        step_over_moco_single_res_no_inst=(ms['clim_single_res_no_inst'] /
                                           ms['moco']),
        step_over_plain_moco=ms['clim'] / ms['moco'])
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=100_000)
    parser.add_argument('--dim', type=int, default=128)
    parser.add_argument('--clusters', type=int, default=1000)
    parser.add_argument('--k', type=int, default=40)
    parser.add_argument('--no-sklearn', action='store_true')
    parser.add_argument('--arch', default='resnet50',
                        choices=['resnet18', 'resnet50'])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--small', type=int, default=None,
                        help='second resolution (default size * 160 / 224)')
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--queue', type=int, default=65536)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--amp', action='store_true',
                        help='bf16 autocast for the steps')
    parser.add_argument('--skip-steps', action='store_true')
    parser.add_argument('--device',
                        default='cuda' if torch.cuda.is_available() else
                        'cpu')
    args = parser.parse_args(argv)
    if args.small is None:
        args.small = round(args.size * 160 / 224)
    register_all_modules(init_default_scope=False)
    device = torch.device(args.device)
    result = dict(device=str(device), threads=torch.get_num_threads(),
                  num=args.num, dim=args.dim, clusters=args.clusters,
                  k=args.k, arch=args.arch, batch=args.batch,
                  sizes=[args.size, args.small])
    if device.type == 'cuda':
        result['gpu'] = torch.cuda.get_device_name(device)
    result.update(time_selection(args))
    print(json.dumps(result), flush=True)
    if not args.skip_steps:
        result.update(time_steps(args, device))
    print(json.dumps(result))


if __name__ == '__main__':
    main()
