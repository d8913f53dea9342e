"""Batched log-domain Sinkhorn against two baselines, timed in one run.

For each (b, c, r) it builds b pairs of raw (unnormalised) ReLU feature maps
with r positions and c channels, as AlignMixup aligns them, and times, from
features to plan with ``eps=0.1`` and exactly ``--iters`` iterations:

* ``ours``: :func:`mmmix.ops.pairwise_sqeuclidean` (one batched matmul) and
  :func:`mmmix.ops.sinkhorn_log` on the whole batch;
* ``pot``: ``ot.dist`` and ``ot.sinkhorn(..., method='sinkhorn_log')`` pair
  by pair (POT's own stopping disabled);
* ``broadcast``: a straightforward batched log-domain loop whose cost is a
  ``(b, r, r, c)`` broadcast.

The marginal error is the largest relative deviation of a row or column sum
of a plan from ``1/r``, over the batch. With raw features at ``eps=0.1``
100 iterations do not converge (the official AlignMixup code stops early
anyway), so the errors are large; ours and the broadcast loop compute the
same iterates, POT updates the column potential first and runs in float64.

The last line printed is a JSON object ``{"sizes": [...]}`` with
``b, c, r, ours_ms, pot_ms, broadcast_ms, ours_marginal_err,
pot_marginal_err`` per size.

Usage: python tools/benchmarks/sinkhorn.py [--iters 100] [--repeats 5]
       [--sizes 128,512,16 ...]
"""
import argparse
import json
import time
import warnings

import numpy as np
import ot
import torch

from mmmix.ops import pairwise_sqeuclidean, sinkhorn_log

SIZES = ((128, 512, 16), (128, 512, 64), (64, 2048, 49))


def timed(fn, repeats):
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats * 1000, out


def marginal_err(plan) -> float:
    plan = torch.as_tensor(plan, dtype=torch.float64)
    r = plan.shape[-1]
    rows = (plan.sum(-1) * r - 1).abs().amax()
    cols = (plan.sum(-2) * r - 1).abs().amax()
    return float(max(rows, cols))


@torch.no_grad()
def broadcast_sinkhorn(x, y, eps, iters):
    cost = (x[:, :, None, :] - y[:, None, :, :]).pow(2).sum(-1)
    r = cost.shape[-1]
    log_mu = torch.full((r, ), -np.log(r))
    u = torch.zeros(cost.shape[:2])
    v = torch.zeros(cost.shape[:2])
    for _ in range(iters):
        u = u + eps * (log_mu - torch.logsumexp(
            (u[:, :, None] + v[:, None, :] - cost) / eps, dim=2))
        v = v + eps * (log_mu - torch.logsumexp(
            (u[:, :, None] + v[:, None, :] - cost) / eps, dim=1))
    return ((u[:, :, None] + v[:, None, :] - cost) / eps).exp()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--iters', type=int, default=100)
    parser.add_argument('--eps', type=float, default=0.1)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--sizes', nargs='+', default=None,
                        help='b,c,r triples (default: the three above)')
    args = parser.parse_args(argv)
    sizes = SIZES if args.sizes is None else [
        tuple(int(v) for v in s.split(',')) for s in args.sizes]
    g = torch.Generator().manual_seed(0)
    warnings.filterwarnings('ignore', module='ot')  # "did not converge"
    results = []
    for b, c, r in sizes:
        x = torch.randn(b, r, c, generator=g).relu()
        y = x[torch.randperm(b, generator=g)]
        x, y = x.to(args.device), y.to(args.device)

        def ours():
            cost = pairwise_sqeuclidean(x, y)
            plan, _ = sinkhorn_log(cost, eps=args.eps, max_iter=args.iters,
                                   stop_rule='none')
            if plan.is_cuda:
                torch.cuda.synchronize()
            return plan

        x_np = x.double().cpu().numpy()
        y_np = y.double().cpu().numpy()
        a = np.full(r, 1 / r)

        def pot():
            return np.stack([
                ot.sinkhorn(a, a, ot.dist(xi, yi), reg=args.eps,
                            method='sinkhorn_log', numItermax=args.iters,
                            stopThr=0) for xi, yi in zip(x_np, y_np)
            ])

        t_ours, plan = timed(ours, args.repeats)
        t_pot, plan_pot = timed(pot, 1)
        t_bc, _ = timed(
            lambda: broadcast_sinkhorn(x.cpu(), y.cpu(), args.eps,
                                       args.iters), 1)
        row = dict(b=b, c=c, r=r, ours_ms=round(t_ours, 2),
                   pot_ms=round(t_pot, 1), broadcast_ms=round(t_bc, 1),
                   ours_marginal_err=round(marginal_err(plan.cpu()), 6),
                   pot_marginal_err=round(marginal_err(plan_pot), 6))
        print(row, flush=True)
        results.append(row)
    print(json.dumps(dict(
        iters=args.iters, eps=args.eps, device=args.device,
        threads=torch.get_num_threads(), sizes=results)))


if __name__ == '__main__':
    main()
