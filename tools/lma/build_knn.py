"""Build the kNN graph of a feature bank (LMA stage B).

Usage::

    python tools/lma/build_knn.py BANK --k 20 --out FILE.npy \
        [--radii FILE.npy] [--cpu]

LMA spec 2.4 / U2: the ``k`` nearest neighbours of every row of the
:class:`~mmmix.datasets.FeatureBank` in folder BANK (unit-norm rows) under
the Euclidean distance, found by the package's exact faiss search
(:func:`mmmix.ops.knn.knn_graph`), **self excluded** and always exactly
``k`` columns (duplicate images included), nearest first. Writes an
``(N, k)`` int64 ``.npy`` (the input of ``KNNReplace`` and
``KNNInstanceDataset``); ``--radii`` also writes each row's distance to its
``k``-th neighbour (float32 ``(N,)``). ``k >= N`` raises. Prints a JSON
summary as its last line.
"""
import argparse
import json

import numpy as np
import torch

from mmmix.datasets import FeatureBank
from mmmix.ops.knn import knn_graph


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('bank', help='feature bank folder')
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--out', required=True, help='output .npy')
    parser.add_argument('--radii', default=None,
                        help='optional .npy of k-th neighbour distances')
    parser.add_argument('--cpu', action='store_true',
                        help='never use a faiss GPU index')
    return parser.parse_args(argv)


def build_knn(feats: torch.Tensor, k: int, use_gpu='auto'):
    """``(idx (N, k) int64 ndarray, dists (N, k) float32 Euclidean)``."""
    n = feats.shape[0]
    if k < 1 or k >= n:
        raise ValueError(f'k must be in [1, N - 1] = [1, {n - 1}] (N = '
                         f'{n} samples), got k={k}')
    sq, idx = knn_graph(feats.float(), k, metric='l2', use_gpu=use_gpu)
    dists = sq.clamp_min(0).sqrt()
    return idx.cpu().numpy().astype(np.int64), dists.cpu().numpy()


def main(argv=None):
    args = parse_args(argv)
    bank = FeatureBank.load(args.bank)
    idx, dists = build_knn(bank.to_tensor(), args.k,
                           use_gpu=False if args.cpu else 'auto')
    np.save(args.out, idx)
    if args.radii:
        np.save(args.radii, dists[:, -1].astype(np.float32))
    summary = dict(out=args.out, num_samples=int(idx.shape[0]),
                   k=int(idx.shape[1]),
                   mean_radius=float(dists[:, -1].mean()))
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
