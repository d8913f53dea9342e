"""InterCLR cost: one inter-image step on the memory bank, and the training
step of MoCo v2 + InterCLR vs MoCo v2.

Inter step: an :class:`mmmix.InterCLRMoCo` with a tiny backbone (the inter
branch never runs it) and a :class:`mmmix.PseudoLabelMemory` of ``--num``
rows of 128 dims, ``k = --clusters`` clusters (default ``num / 128``, i.e.
10,000 for 1.28M), momentum 1 and ``min_cluster`` 20, is filled by
``init_memory`` with random clustered unit features: every row is drawn
around one of ``k`` random centres (balanced) and labelled with it, a cheap
assignment instead of a global k-means, to keep the setup fast. Each
iteration takes ``--batch`` distinct random rows, a random unit query ``q``
that requires grad, and a key (the row's bank entry plus noise, so that a
few labels move), then times, in order:

* ``table_ms``: the cluster-sorted index of the labels (every reassignment
  invalidates it, so every step rebuilds it);
* ``sample_ms``: ``q @ bank.T``, one same-cluster positive and ``--K``
  negatives (semi-hard: ``K`` draws from the ``P = --pool-ratio * num``
  nearest other-cluster rows);
* ``loss_backward_ms``: the scores gathered from ``q @ bank.T``, the
  MarginNCE head and the backward pass to ``q``;
* ``update_reassign_ms``: the staged update committed
  (``model.commit_memory()``: Eq. 2 and the online reassignment of the
  batch rows);
* ``repair_ms``: ``memory.repair()`` (the hook runs it every iteration);
* ``centroid_update_ms``: ``memory.update_centroids()`` (every 10th
  iteration in the hook, so counted 1/10).

``inter_step_ms`` is the sum of the medians, with the centroid update
divided by 10. The three first parts are the body of
``InterCLRMixin.inter_nce_loss`` split at its stages; the script checks
once that they give the method's loss. The same runs at ``--big`` rows
(default 1.28M, keys suffixed ``_1.28m``) unless ``--no-big`` or the
estimated peak memory (bank and index, the ``B x N`` similarities, their
masked copy and gradient, the pool) exceeds
``--max-gib``. ``bank_mib``: features, labels, centroids and the cached
cluster table (four int64 arrays of ``N``), in MiB, for each size.

Step: full SGD steps (forward, backward, update) of mmpretrain's ``MoCo``
and ``mmmix.InterCLRMoCo`` sharing backbone, neck, queue and batch (two
random views of ``--size`` px, data samples with distinct random
``sample_idx``), in train mode; the InterCLR memory (``--step-num`` rows) is
initialised before timing and its step includes the hook's work: the repair
every step and the centroid update, timed beside it and counted 1/10. They
are timed round-robin (one step of each in turn, medians over ``--steps``
rounds after ``--warmup``): ``step_over_moco`` = InterCLR / MoCo.

The last line printed is a JSON object with all of them.

Usage:
    python tools/benchmarks/interclr.py                # paper-like sizes
    OMP_NUM_THREADS=1 python tools/benchmarks/interclr.py --num 20000 \\
        --no-big --arch resnet18 --size 64 --batch 32 --K 1024 \\
        --step-num 20000 --queue 4096 --steps 3 --warmup 1 \\
        --device cpu                                   # a small CPU run
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from mmmix.ops.pair_sampling import gather_scores, sample_negatives
from mmmix.registry import MODELS
from mmmix.utils import register_all_modules

DIM = 128
MIB = 2.**20
INTER_PARTS = ('table', 'sample', 'loss_backward', 'update_reassign',
               'repair', 'centroid_update')
CENTROID_INTERVAL = 10


def size_tag(n: int) -> str:
    """``1280000 -> '1.28m'``, ``200000 -> '200k'``."""
    if n >= 10**6:
        return f'{n / 1e6:g}m'
    if n >= 10**3:
        return f'{n / 1e3:g}k'
    return str(n)


def num_clusters(n: int, args) -> int:
    return args.clusters or max(1, round(n / 128))


def pool_size(n: int, args) -> int:
    return max(1, int(round(args.pool_ratio * n)))


def clustered_bank(n: int, k: int, seed: int = 0, noise: float = 0.7):
    """``n`` unit rows around ``k`` random unit centres (balanced, about
    ``n / k`` each) and the index of each row's centre as its label."""
    g = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(k, DIM, generator=g), dim=1)
    labels = torch.randperm(n, generator=g) % k
    feats = torch.randn(n, DIM, generator=g).mul_(noise / DIM**.5)
    feats += centres[labels]
    return F.normalize(feats, dim=1), labels


def bank_bytes(n: int, k: int) -> dict:
    """Bytes of the memory: float32 features and centroids, int64 labels,
    and the cluster table (members, start, count, self_pos: int64)."""
    return dict(feats=n * DIM * 4, labels=n * 8, centroids=k * DIM * 4,
                table=4 * n * 8)


def peak_bytes(n: int, args) -> int:
    """Estimated peak of one inter step: the bank, ``q @ bank.T``, its
    masked copy and its gradient (float32) with the same-cluster mask, and
    the top-P pool (values, indices, keys, picks)."""
    b = args.batch
    bank = sum(bank_bytes(n, num_clusters(n, args)).values())
    sim = b * n * (4 + 4 + 4 + 1)
    pool = b * pool_size(n, args) * (4 + 8 + 4 + 8)
    return bank + sim + pool


def interclr_cfg(backbone: dict, neck: dict, n: int, args) -> dict:
    return dict(
        type='mmmix.InterCLRMoCo', backbone=backbone, neck=neck,
        head=dict(type='mmmix.MarginNCEHead', temperature=0.2, margin=0.),
        inter_head=dict(type='mmmix.MarginNCEHead', temperature=0.2,
                        margin=-0.5),
        memory=dict(type='mmmix.PseudoLabelMemory', length=n,
                    feat_dim=DIM, num_clusters=num_clusters(n, args),
                    momentum=1., min_cluster=20),
        intra_weight=0.75, num_negatives=args.K,
        neg_strategy=args.strategy, pool_ratio=args.pool_ratio,
        label_update='online', queue_len=args.queue, feat_dim=DIM,
        momentum=0.001)


def init_memory(model, n: int, args, device) -> float:
    """Fill the model's memory with :func:`clustered_bank`; seconds."""
    feats, labels = clustered_bank(n, num_clusters(n, args), args.seed)
    t = time.perf_counter()
    model.memory.init_memory(feats.to(device), labels.to(device))
    return time.perf_counter() - t


def make_sync(device):
    if device.type == 'cuda':
        return lambda: torch.cuda.synchronize(device)
    return lambda: None


# ------------------------------------------------------------- inter step
def inter_loss(model, q, idx, marks=None):
    """``InterCLRMixin.inter_nce_loss`` in stages; ``marks(name)`` is
    called at the end of ``table`` and ``sample``."""
    mark = marks or (lambda name: None)
    mem = model.memory
    model._check_memory_ready()
    table = mem.table()
    mark('table')
    sim = model.bank_similarity(q)
    pos = model._inter_positives(idx)
    neg = sample_negatives(None if sim is None else sim.detach(), mem.labels,
                           mem.labels[idx], model.num_negatives,
                           model.neg_strategy, model.pool_size, table=table,
                           idx=idx)
    mark('sample')
    qf = q.float()
    return model.inter_head.loss(gather_scores(qf, mem.feats, pos, sim),
                                 gather_scores(qf, mem.feats, neg, sim))


def check_stages(model, n, args, device) -> None:
    """The staged loss equals the model's ``inter_nce_loss`` (same seed)."""
    g = torch.Generator().manual_seed(args.seed + 1)
    idx = torch.randperm(n, generator=g)[:args.batch].to(device)
    q = F.normalize(torch.randn(args.batch, DIM, generator=g), dim=1)
    q = q.to(device)
    with torch.no_grad():
        torch.manual_seed(args.seed)
        ref = model.inter_nce_loss(q, idx)
        torch.manual_seed(args.seed)
        ours = inter_loss(model, q, idx)
    if not torch.allclose(ref, ours, rtol=1e-5, atol=1e-6):
        raise RuntimeError(
            f'the timed stages give {float(ours)}, inter_nce_loss '
            f'{float(ref)}: update inter_loss() to match InterCLRMixin')


def time_inter(n: int, args, device) -> dict:
    """Medians of the inter-step parts at ``n`` bank rows (ms)."""
    torch.manual_seed(args.seed)
    tiny = dict(type='ResNet', depth=18, stem_channels=8, base_channels=8,
                norm_cfg=dict(type='BN'))
    neck = dict(type='MoCoV2Neck', in_channels=64, hid_channels=64,
                out_channels=DIM, with_avg_pool=True)
    model = MODELS.build(interclr_cfg(tiny, neck, n, args))
    model = model.to(device).train()
    init_s = init_memory(model, n, args, device)
    check_stages(model, n, args, device)
    mem = model.memory
    sync = make_sync(device)
    g = torch.Generator().manual_seed(args.seed + 2)
    times = {p: [] for p in INTER_PARTS}
    for it in range(args.warmup + args.steps):
        idx = torch.randperm(n, generator=g)[:args.batch].to(device)
        q = F.normalize(torch.randn(args.batch, DIM, generator=g), dim=1)
        q = q.to(device).requires_grad_()
        noise = torch.randn(args.batch, DIM, generator=g).to(device)
        key = F.normalize(mem.feats[idx] + 0.3 * noise / DIM**.5, dim=1)
        mem._labels_changed()  # as after the previous step's reassignment
        sync()
        stamps = [('start', time.perf_counter())]

        def mark(name):
            sync()
            stamps.append((name, time.perf_counter()))

        loss = inter_loss(model, q, idx, mark)
        loss.backward()
        mark('loss_backward')
        mem.stage(idx, key)
        model.commit_memory()
        mark('update_reassign')
        mem.repair()
        mark('repair')
        mem.update_centroids()
        mark('centroid_update')
        if it >= args.warmup:
            for (_, t0), (name, t1) in zip(stamps, stamps[1:]):
                times[name].append(t1 - t0)
    ms = {p: 1000 * statistics.median(v) for p, v in times.items()}
    out = {f'{p}_ms': v for p, v in ms.items()}
    out['inter_step_ms'] = sum(v for p, v in ms.items()
                               if p != 'centroid_update') + \
        ms['centroid_update'] / CENTROID_INTERVAL
    table = mem.table()
    nbytes = dict(feats=mem.feats, labels=mem.labels,
                  centroids=mem.centroids)
    nbytes = {key: t.numel() * t.element_size() for key, t in nbytes.items()}
    nbytes['table'] = sum(t.numel() * t.element_size() for t in table)
    out.update(bank_mib=sum(nbytes.values()) / MIB,
               bank_parts_mib={key: v / MIB for key, v in nbytes.items()},
               init_memory_s=init_s, clusters=mem.num_clusters,
               pool=model.pool_size)
    return out


def big_skip_reason(args):
    if args.no_big:
        return '--no-big'
    if args.big <= 0:
        return '--big 0'
    need = peak_bytes(args.big, args) / 2.**30
    if need > args.max_gib:
        return (f'estimated peak {need:.1f} GiB exceeds --max-gib '
                f'{args.max_gib:g}')
    return None


# ------------------------------------------------------------------ step
def build_step_model(kind: str, args, device):
    depth = int(args.arch.replace('resnet', ''))
    last = 512 if depth < 50 else 2048
    backbone = dict(type='ResNet', depth=depth, norm_cfg=dict(type='BN'),
                    zero_init_residual=False)
    neck = dict(type='MoCoV2Neck', in_channels=last, hid_channels=2048,
                out_channels=DIM, with_avg_pool=True)
    if kind == 'moco':
        cfg = dict(type='MoCo', backbone=backbone, neck=neck,
                   head=dict(type='ContrastiveHead',
                             loss=dict(type='CrossEntropyLoss'),
                             temperature=0.2),
                   queue_len=args.queue, feat_dim=DIM, momentum=0.001)
    else:
        cfg = interclr_cfg(backbone, neck, args.step_num, args)
    torch.manual_seed(args.seed)
    return MODELS.build(cfg).to(device).train()


def time_steps(args, device) -> dict:
    from mmpretrain.structures import DataSample
    kinds = ('moco', 'interclr')
    models = {k: build_step_model(k, args, device) for k in kinds}
    memory = models['interclr'].memory
    init_memory(models['interclr'], args.step_num, args, device)
    opts = {k: torch.optim.SGD(m.parameters(), lr=0.03, momentum=0.9,
                               weight_decay=1e-4)
            for k, m in models.items()}
    g = torch.Generator().manual_seed(args.seed + 3)
    views = [torch.randn(args.batch, 3, args.size, args.size,
                         generator=g).to(device) for _ in range(2)]
    sync = make_sync(device)

    def step(k):
        idx = torch.randperm(args.step_num, generator=g)[:args.batch]
        samples = [DataSample(metainfo=dict(sample_idx=int(i)))
                   for i in idx]
        sync()
        t = time.perf_counter()
        losses = models[k].loss(views, samples)
        opts[k].zero_grad(set_to_none=True)
        sum(v for key, v in losses.items() if 'loss' in key).backward()
        opts[k].step()
        if k == 'interclr':  # the hook's work after the optimizer step
            models[k].commit_memory()
            memory.repair()
        sync()
        return time.perf_counter() - t

    def centroids():
        sync()
        t = time.perf_counter()
        memory.update_centroids()
        sync()
        return time.perf_counter() - t

    for _ in range(args.warmup):
        for k in kinds:
            step(k)
        centroids()
    times = {k: [] for k in kinds + ('centroid_update', )}
    for _ in range(args.steps):
        for k in kinds:
            times[k].append(step(k))
        times['centroid_update'].append(centroids())
    ms = {k: 1000 * statistics.median(v) for k, v in times.items()}
    interclr = ms['interclr'] + ms['centroid_update'] / CENTROID_INTERVAL
    return dict(moco_ms=ms['moco'], interclr_step_ms=ms['interclr'],
                interclr_centroid_update_ms=ms['centroid_update'],
                interclr_ms=interclr, step_over_moco=interclr / ms['moco'])


# ------------------------------------------------------------------ main
def print_inter(n, rec, args):
    print(f'inter step: bank {size_tag(n)} x {DIM}, k={rec["clusters"]}, '
          f'K={args.K}, {args.strategy} pool P={rec["pool"]}, '
          f'B={args.batch} (init_memory {rec["init_memory_s"]:.1f} s)')
    for p in INTER_PARTS:
        note = f' (/{CENTROID_INTERVAL})' if p == 'centroid_update' else ''
        print(f'  {p + "_ms" + note:<28}{rec[p + "_ms"]:10.2f}')
    print(f'  {"inter_step_ms":<28}{rec["inter_step_ms"]:10.2f}')
    parts = ', '.join(f'{k} {v:.1f}' for k, v in
                      rec['bank_parts_mib'].items())
    print(f'  {"bank_mib":<28}{rec["bank_mib"]:10.1f}  ({parts})',
          flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=200_000,
                        help='bank rows of the inter step')
    parser.add_argument('--big', type=int, default=1_280_000,
                        help='second bank size (default 1.28M)')
    parser.add_argument('--no-big', action='store_true')
    parser.add_argument('--max-gib', type=float, default=16.,
                        help='skip --big above this estimated peak')
    parser.add_argument('--clusters', type=int, default=None,
                        help='k (default rows / 128)')
    parser.add_argument('--K', type=int, default=16384,
                        help='inter negatives')
    parser.add_argument('--strategy', default='semihard',
                        choices=['semihard', 'hard', 'random', 'semieasy'])
    parser.add_argument('--pool-ratio', type=float, default=0.1)
    parser.add_argument('--arch', default='resnet50',
                        choices=['resnet18', 'resnet50'])
    parser.add_argument('--size', type=int, default=224)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--queue', type=int, default=65536,
                        help='MoCo queue (a multiple of --batch)')
    parser.add_argument('--step-num', type=int, default=200_000,
                        help='bank rows of the InterCLR training step')
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--skip-steps', action='store_true')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--device',
                        default='cuda' if torch.cuda.is_available() else
                        'cpu')
    args = parser.parse_args(argv)
    if args.queue % args.batch:
        parser.error('--queue must be a multiple of --batch')
    register_all_modules(init_default_scope=False)
    device = torch.device(args.device)
    result = dict(device=str(device), threads=torch.get_num_threads(),
                  num=args.num, dim=DIM, K=args.K, strategy=args.strategy,
                  pool_ratio=args.pool_ratio, batch=args.batch)
    if device.type == 'cuda':
        result['gpu'] = torch.cuda.get_device_name(device)
    rec = time_inter(args.num, args, device)
    print_inter(args.num, rec, args)
    result.update(rec)
    reason = big_skip_reason(args)
    tag = size_tag(args.big)
    if reason is None:
        big = time_inter(args.big, args, device)
        print_inter(args.big, big, args)
        result.update({f'{key}_{tag}': v for key, v in big.items()})
    else:
        mib = sum(bank_bytes(args.big, num_clusters(args.big, args))
                  .values()) / MIB
        print(f'inter step at {tag} skipped: {reason} (bank would be '
              f'{mib:.1f} MiB)', flush=True)
        result.update({f'bank_mib_{tag}': mib, 'big_skipped': reason})
    if not args.skip_steps:
        result.update(arch=args.arch, size=args.size, queue=args.queue,
                      step_num=args.step_num)
        result.update(time_steps(args, device))
        print(f'step {args.arch} {args.size}px batch {args.batch} '
              f'({args.steps} rounds): moco {result["moco_ms"]:.1f} ms, '
              f'interclr {result["interclr_ms"]:.1f} ms (centroid update '
              f'{result["interclr_centroid_update_ms"]:.1f} ms / '
              f'{CENTROID_INTERVAL}), step_over_moco '
              f'{result["step_over_moco"]:.3f}')
    print(json.dumps(result))


if __name__ == '__main__':
    main()
