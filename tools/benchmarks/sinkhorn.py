"""Batched log-domain Sinkhorn vs a per-pair POT loop, timed in one run.

Prints one JSON line per problem size with the time of
``mmmix.ops.sinkhorn_log`` on the whole batch, the time of
``ot.sinkhorn(..., method='sinkhorn_log')`` called pair by pair with the
same iteration budget, their ratio, and the largest plan difference (POT
updates the column potential first and mmmix the row one, so the plans agree
once both have converged, not after a few iterations).

Usage: python tools/benchmarks/sinkhorn.py [--batch 128] [--channels 512]
"""
import argparse
import json
import time
import warnings

import numpy as np
import ot
import torch

from mmmix.ops import pairwise_sqeuclidean, sinkhorn_log


def timed(fn, repeats):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--channels', type=int, default=512)
    parser.add_argument('--positions', type=int, nargs='+',
                        default=[16, 49, 64])
    parser.add_argument('--iters', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    g = torch.Generator().manual_seed(0)
    for r in args.positions:
        x = torch.randn(args.batch, r, args.channels, generator=g).relu()
        y = x[torch.randperm(args.batch, generator=g)]
        x, y = x.to(args.device), y.to(args.device)
        cost = pairwise_sqeuclidean(x, y)
        cost = cost / cost.mean()  # O(1) costs: POT's plain loop is stable

        def ours():
            plan, _ = sinkhorn_log(cost, eps=0.1, max_iter=args.iters,
                                   stop_rule='none')
            if plan.is_cuda:
                torch.cuda.synchronize()
            return plan

        c_np = cost.double().cpu().numpy()
        a = np.full(r, 1 / r)

        def pot_loop():
            warnings.filterwarnings('ignore', module='ot')  # no-convergence
            return np.stack([
                ot.sinkhorn(a, a, c, reg=0.1, method='sinkhorn_log',
                            numItermax=args.iters, stopThr=0)
                for c in c_np
            ])

        t_ours, plan = timed(ours, args.repeats)
        t_pot, ref = timed(pot_loop, 1)
        print(json.dumps(dict(
            batch=args.batch, positions=r, channels=args.channels,
            iters=args.iters, device=args.device,
            mmmix_s=round(t_ours, 5), pot_loop_s=round(t_pot, 5),
            pot_loop_over_mmmix=round(t_pot / t_ours, 2),
            max_abs_diff=float(np.abs(plan.double().cpu().numpy() -
                                      ref).max()))))


if __name__ == '__main__':
    main()
