"""Metrix loss step: ours versus one mixed feature map per triplet.

One loss + backward from a batch of last-stage feature maps (``--classes``
x ``--per-class`` images, ``--channels`` x ``--size`` x ``--size``), the
GAP+GMP+linear+l2 neck to ``--dim``, multi-similarity with the thesis's
constants and positive-negative feature mixing over all pairs at one
``lam``:

* ``ours``: :class:`~mmmix.models.MetrixLoss` with the fused neck
  (``AvgMaxPoolLinearL2Neck.forward_mixed``): each distinct mixed example
  (ordered pair of different classes) once, (anchor, mixed) terms selected
  by a mask, the GMP of a mix read at its arg-max without building it;
* ``reference``: the straightforward formulation of the public code: one
  mixed feature map per (anchor, positive, negative) triplet, the neck on
  all of them, one similarity per triplet, the same soft-label loss;
* ``baseline`` / ``embed``: the clean loss alone, and with embedding-level
  Metrix (scored from the Gram matrix).

Times are medians over ``--steps`` round-robin rounds. Memory is the bytes
a step keeps for backward (saved tensors, counted once per storage, plus
the leaf features and parameters), the same count as
``mixup_step.py`` uses on a CPU; on CUDA the allocator's peak. The last
line printed is a JSON object with ``speedup`` (reference / ours time),
``memory_ratio`` (ours / reference), ``loss_ours``, ``loss_reference`` and
``embed_over_baseline`` (time), plus the sizes and medians.

The issue's size (20 x 5, 2048 x 7 x 7, d = 512) makes the reference build
38,000 mixed maps (15 GB in float32, twice that with their gradients): use
a GPU, or ``--channels 512`` on a 24 GB machine.

Usage: python tools/benchmarks/metrix.py [--channels 2048] [--device cpu]
"""
import argparse
import json
import statistics
import time

import torch

from mmmix.models.losses import MetrixLoss
from mmmix.models.necks import AvgMaxPoolLinearL2Neck
from mmmix.ops.metrix import mix, mixing_pairs, soft_label_loss, soft_labels
from mmmix.utils.profiling import saved_tensor_bytes


def kept_bytes(fn, device):
    """Run ``fn()`` (returns a loss), backward it; bytes kept for backward
    (CPU) or the allocator's peak (CUDA)."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn().backward()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    loss, kept = saved_tensor_bytes(fn)
    loss.backward()
    return kept


def triplets(labels):
    """(anchor, positive, negative) index triplets of pos-neg Metrix."""
    same = labels[:, None] == labels[None]
    pos = same & ~torch.eye(len(labels), dtype=torch.bool)
    a, p = pos.nonzero(as_tuple=True)
    neg = ~same[a]                                     # (P, B)
    row, n = neg.nonzero(as_tuple=True)
    return a[row], p[row], n


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--classes', type=int, default=20)
    parser.add_argument('--per-class', type=int, default=5)
    parser.add_argument('--channels', type=int, default=2048)
    parser.add_argument('--size', type=int, default=7)
    parser.add_argument('--dim', type=int, default=512)
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--no-reference', action='store_true',
                        help='skip the triplet reference (too large for the '
                        "machine): speedup, memory_ratio and loss_reference "
                        'are then null')
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    b = args.classes * args.per_class
    labels = torch.arange(args.classes).repeat_interleave(args.per_class)
    labels = labels.to(device)
    feats = torch.randn(b, args.channels, args.size, args.size,
                        device=device).relu_().requires_grad_()
    neck = AvgMaxPoolLinearL2Neck(args.channels, args.dim).to(device)
    ms = dict(type='MultiSimilarityLoss', alpha=18, beta=75, base=0.77)
    loss = MetrixLoss(ms, pair_modes=('pos_neg', ), mixing_weight=1.0)
    lam = torch.tensor(0.4, device=device)
    i, j, mask = mixing_pairs(labels, 'pos_neg')
    y = soft_labels(labels, labels, i, j, lam)
    ta, tp, tn = triplets(labels)

    def ours():
        emb = neck((feats, ))[0]
        clean = loss.clean(emb, labels)
        mixed = neck.forward_mixed(feats, i, j, lam)
        return clean + soft_label_loss(loss.loss, emb, mixed, y, mask)

    def reference():
        emb = neck((feats, ))[0]
        clean = loss.clean(emb, labels)
        mixed = neck((mix(feats, tp, tn, lam), ))[0]       # (T, d)
        sim = (emb[ta] * mixed).sum(1)                     # one per triplet
        mat = sim.new_zeros(b, len(ta)).index_put(
            (ta, torch.arange(len(ta), device=device)), sim)
        support = torch.zeros(b, len(ta), dtype=torch.bool, device=device)
        support[ta, torch.arange(len(ta), device=device)] = True
        return clean + soft_label_loss(
            loss.loss, emb, None, lam.expand(b, len(ta)), support, mat=mat)

    def baseline():
        return loss.clean(neck((feats, ))[0], labels)

    def embed():
        out = loss(neck((feats, ))[0], labels)
        return out['loss_clean'] + out['loss_mix']

    runs = dict(ours=ours, reference=reference, baseline=baseline,
                embed=embed)
    compared = ('ours', ) if args.no_reference else ('ours', 'reference')
    if args.no_reference:
        del runs['reference']
    values = {name: float(runs[name]().detach()) for name in compared}
    times = {name: [] for name in runs}
    for _ in range(args.steps):
        for name, fn in runs.items():
            feats.grad = None
            neck.zero_grad()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn().backward()
            if device.type == 'cuda':
                torch.cuda.synchronize()
            times[name].append(time.perf_counter() - start)
    memory = {name: kept_bytes(runs[name], device) for name in compared}
    med = {name: statistics.median(t) * 1e3 for name, t in times.items()}

    def ratio(a, b, digits):
        return round(a[0] / a[1], digits) if b else None

    has_ref = not args.no_reference
    result = dict(
        batch=b, channels=args.channels, size=args.size, dim=args.dim,
        mixed_ours=len(i), mixed_reference=len(ta), device=str(device),
        ms_ours=round(med['ours'], 2),
        ms_reference=round(med['reference'], 2) if has_ref else None,
        ms_baseline=round(med['baseline'], 2),
        ms_embed=round(med['embed'], 2),
        speedup=ratio((med.get('reference'), med['ours']), has_ref, 3),
        memory_ratio=ratio((memory['ours'], memory.get('reference')),
                           has_ref, 4),
        mem_ours_mb=round(memory['ours'] / 2**20, 1),
        mem_reference_mb=round(memory['reference'] / 2**20, 1)
        if has_ref else None,
        loss_ours=values['ours'], loss_reference=values.get('reference'),
        embed_over_baseline=round(med['embed'] / med['baseline'], 3))
    print(json.dumps(result))
    return result


if __name__ == '__main__':
    main()
