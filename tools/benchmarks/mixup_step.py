"""Training-step time and memory of AlignMixup and MultiMix vs no mixup.

Builds the same :class:`~mmmix.models.MixupClassifier` (PreActResNet-18,
GAP, linear head, soft-target cross-entropy) three times with a single
mixing mode each:

* ``none``: no mixing;
* ``input``: mmpretrain's ``Mixup`` on the images;
* ``alignmixup``: ``AlignMix`` on the last-stage feature map (512x4x4 at
  32x32: 100 Sinkhorn iterations at most, official early stop), the most
  expensive of AlignMixup's modes, so the ratio is an upper bound for the
  method's average step;
* ``multimix``: ``MultiMix`` with ``n = 1000`` at the logits;
* ``dense_multimix``: ``DenseMultiMix`` with ``n = 1000`` on the 4x4 map;

and times full SGD steps (forward, backward, update) on one random batch.
The three are measured round-robin (one step of each in turn, medians over
``--steps`` rounds) so that load changes on a shared machine hit them alike.
The last line printed is a JSON object with the medians (ms), the ratios
``alignmixup_over_input``, ``alignmixup_over_none``, ``multimix_over_none``,
``dense_multimix_over_none`` and the peak-memory ratios
``multimix_peak_mem_over_none`` and ``dense_peak_mem_over_none``.

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` over one step; on
CPU (no allocator statistics) the bytes a step keeps alive at its peak,
i.e. parameters, gradients, momentum buffers and the tensors saved for
backward (counted once per storage with ``saved_tensors_hooks``).

Usage: python tools/benchmarks/mixup_step.py [--batch 128] [--size 32]
"""
import argparse
import json
import statistics
import time

import numpy as np
import torch
from mmpretrain.structures import DataSample

from mmmix.registry import MODELS
from mmmix.utils import register_all_modules
from mmmix.utils.profiling import saved_tensor_bytes

MODES = dict(
    none=dict(level='none'),
    input=dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
    alignmixup=dict(
        level='feature',
        augment=dict(type='mmmix.AlignMix', alpha=2.0, eps=0.1,
                     max_iter=100, stop_rule='official')),
    multimix=dict(level='logits', augment=dict(type='mmmix.MultiMix',
                                               n=1000)),
    dense_multimix=dict(level='dense',
                        augment=dict(type='mmmix.DenseMultiMix', n=1000)),
)


def step_memory(model, opt, x, samples, device) -> int:
    """Peak bytes of one training step (see the module docstring)."""
    if device.type == 'cuda':
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        loss = model.loss(x, samples)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated()
    losses, activations = saved_tensor_bytes(
        lambda: model.loss(x, samples))
    loss = losses['loss']
    opt.zero_grad()
    loss.backward()
    opt.step()
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    # parameters + gradients + momentum buffers + saved activations
    return 3 * params + activations


def build(mode, num_classes, device):
    model = MODELS.build(
        dict(
            type='mmmix.MixupClassifier',
            backbone=dict(type='mmmix.PreActResNet', depth=18),
            neck=dict(type='GlobalAveragePooling'),
            head=dict(
                type='LinearClsHead',
                num_classes=num_classes,
                in_channels=512,
                loss=dict(type='CrossEntropyLoss', use_soft=True)),
            mix_modes=[mode]))
    return model.to(device).train()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--batch', type=int, default=128)
    parser.add_argument('--size', type=int, default=32)
    parser.add_argument('--classes', type=int, default=100)
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=False)
    torch.manual_seed(0)
    np.random.seed(0)
    device = torch.device(args.device)
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    samples = [
        DataSample().set_gt_label(i % args.classes)
        for i in range(args.batch)
    ]
    runs = {}
    for name, mode in MODES.items():
        model = build(mode, args.classes, device)
        runs[name] = (model, torch.optim.SGD(model.parameters(), lr=0.1,
                                             momentum=0.9))

    def step(name):
        model, opt = runs[name]
        if device.type == 'cuda':
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model.loss(x, samples)['loss']
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        return (time.perf_counter() - start) * 1000

    times = {name: [] for name in runs}
    for i in range(args.warmup + args.steps):
        for name in runs:
            t = step(name)
            if i >= args.warmup:
                times[name].append(t)
        print(f'round {i}: ' + ', '.join(
            f'{n} {times[n][-1]:.0f} ms' for n in runs if times[n]),
              flush=True)
    med = {name: statistics.median(t) for name, t in times.items()}
    mem = {name: step_memory(*runs[name], x, samples, device)
           for name in runs}
    print(json.dumps(dict(
        batch=args.batch, size=args.size, device=args.device,
        threads=torch.get_num_threads(), steps=args.steps,
        none_ms=round(med['none'], 1), input_ms=round(med['input'], 1),
        alignmixup_ms=round(med['alignmixup'], 1),
        alignmixup_over_input=round(med['alignmixup'] / med['input'], 3),
        alignmixup_over_none=round(med['alignmixup'] / med['none'], 3),
        multimix_ms=round(med['multimix'], 1),
        dense_multimix_ms=round(med['dense_multimix'], 1),
        multimix_over_none=round(med['multimix'] / med['none'], 3),
        dense_multimix_over_none=round(
            med['dense_multimix'] / med['none'], 3),
        peak_mem_mb={k: round(v / 2**20, 1) for k, v in mem.items()},
        multimix_peak_mem_over_none=round(mem['multimix'] / mem['none'], 3),
        dense_peak_mem_over_none=round(
            mem['dense_multimix'] / mem['none'], 3))))


if __name__ == '__main__':
    main()
