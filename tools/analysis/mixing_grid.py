"""Grid of what a mixup classifier's modes make of one training batch.

Usage::

    python tools/analysis/mixing_grid.py CONFIG [--checkpoint CKPT] \
        --out FIG.png [--num 8] [--seed 0] [--cfg-options K=V ...]

For a ``MixupClassifier`` config (``configs/alignmixup/``,
``configs/multimix/``) it builds the model (random init without
``--checkpoint``), draws ``--num`` images of the config's train dataloader
and pairs each with a partner of the batch (a random derangement). One
``lam ~ Beta(alpha, alpha)`` is drawn per column (``alpha`` of the config's
first Mixup/AlignMix mode) and shared by all rows, so that the column
titles give the mixed label ``lam * y + (1 - lam) * y'``. Rows:

1. the inputs ``x``; 2. their partners ``x'``; then, per mode of
``model.mix_modes`` (``level='none'`` draws nothing):

* ``input`` + ``Mixup``: the mixed image ``lam x + (1 - lam) x'``;
* ``feature`` + ``AlignMix`` (last stage): the transport plan ``R`` aligning
  the partner's positions to the input's (a heatmap, rows: positions of
  ``x``) and, when the model has a decoder (AlignMixup/AE), the decoded
  embedding of the aligned mixture ``lam A + (1 - lam) A' R^T``;
* ``feature`` + ``Mixup`` (manifold mixup, at a stage or the last map):
  decoded when the decoder applies, else the mixed map's channel mean as
  a heatmap;
* ``embedding`` + ``Mixup``: the decoded mixed embedding with a decoder,
  else the mixed embedding reshaped to a heatmap;
* ``recon``: the decoder's reconstruction of the clean input;
* ``logits`` + ``MultiMix``: for column ``k`` the Dirichlet weights of the
  ``k``-th generated combination over the batch (bars, x: input column).

Other models, levels or augments raise a ``ValueError`` naming them.
Images are shown un-normalised with the data preprocessor's mean/std.
The last printed line is a JSON summary (rows, lam, labels, partners).
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import random

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmmix.engine import build_model_from_cfg
from mmmix.models.classifiers.mixup_classifier import MixupClassifier
from mmmix.ops.align_mix import align_to, alignment_plan
from mmmix.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--out', required=True)
    parser.add_argument('--num', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x, )


def load_batch(cfg, num, seed):
    """``num`` samples of the train dataloader (shuffled with ``seed``)."""
    loader_cfg = copy.deepcopy(cfg.train_dataloader)
    loader_cfg.update(batch_size=num, num_workers=0,
                      persistent_workers=False, drop_last=False)
    loader_cfg['sampler'] = dict(type='DefaultSampler', shuffle=True)
    loader_cfg.pop('batch_sampler', None)
    loader = Runner.build_dataloader(loader_cfg, seed=seed)
    classes = loader.dataset.metainfo.get('classes')
    return next(iter(loader)), classes


def to_display(model, x):
    """Normalised ``(n, c, h, w)`` model inputs -> ``(n, h, w[, 3])`` in
    [0, 1] for ``imshow``."""
    dp = model.data_preprocessor
    x = x.detach().float()
    if getattr(dp, '_enable_normalize', False):
        x = x * dp.std.to(x) + dp.mean.to(x)
    x = (x / 255).clamp(0, 1).cpu()
    if x.shape[1] == 1:
        return x[:, 0].numpy()
    if x.shape[1] == 3 and not (getattr(dp, 'to_rgb', False)
                                      or getattr(dp, '_channel_conversion',
                                                 False)):
        x = x.flip(1)  # BGR as loaded -> RGB
    return x[:, :3].permute(0, 2, 3, 1).numpy()


def _derangement(n, rng):
    order = rng.permutation(n)
    partner = np.empty(n, dtype=np.int64)
    partner[order] = np.roll(order, -1)
    return partner


def _near_square(d):
    h = int(math.sqrt(d))
    while d % h:
        h -= 1
    return h, d // h


def _mix(a, b, lam):
    lam = lam.view(-1, *([1] * (a.dim() - 1))).to(a)
    return lam * a + (1 - lam) * b


def _decode(model, emb):
    emb = _as_tuple(emb)[-1]
    return ('image', to_display(model, model.decoder(emb)))


def _feature_row(model, x, partner, lam, mode, name):
    """Rows for a feature-level mode."""
    aug, stage = mode['augment'], mode['stage']
    rows = []
    if stage is None:
        feats = _as_tuple(model.backbone(x))
        a = feats[-1]
        if name == 'AlignMix':
            plan, _ = alignment_plan(a, a[partner], **aug.solver_cfg)
            mixed = _mix(a, align_to(a[partner], plan), lam)
            rows.append(('feature: AlignMix OT plan R (x rows, x\' cols)',
                         ('heatmap', plan.cpu().numpy())))
            what = 'feature: AlignMix'
        else:
            mixed = _mix(a, a[partner], lam)
            what = 'feature: Mixup'
        if model.decoder is not None:
            out = feats[:-1] + (mixed, )
            emb = model.neck(out) if model.with_neck else out
            rows.append((f'{what} -> decoder', _decode(model, emb)))
        elif name != 'AlignMix':
            rows.append((f'{what} (mean over channels)',
                         ('heatmap', mixed.mean(1).cpu().numpy())))
        return rows
    box = {}

    def hook(module, args, output):
        box['mixed'] = _mix(output, output[partner], lam)
        return box['mixed']

    handle = model.backbone.get_submodule(stage).register_forward_hook(hook)
    try:
        emb = model.extract_feat(x)
    finally:
        handle.remove()
    if model.decoder is not None:
        return [(f'feature {stage}: Mixup -> decoder',
                 _decode(model, emb))]
    mixed = box['mixed']
    return [(f'feature {stage}: Mixup (mean over channels)',
             ('heatmap', mixed.mean(1).cpu().numpy()))]


def mode_rows(model, x, partner, lam):
    """``[(row title, (kind, data))]`` for every mode of the model."""
    rows = []
    for i, mode in enumerate(model.mix_modes):
        level, aug = mode['level'], mode['augment']
        name = type(aug).__name__ if aug is not None else None
        ok = {'none': (None, ), 'recon': (None, ), 'input': ('Mixup', ),
              'feature': ('Mixup', 'AlignMix'), 'embedding': ('Mixup', ),
              'logits': ('MultiMix', )}
        if level not in ok or name not in ok[level]:
            raise ValueError(
                f'mixing_grid: mix_modes[{i}] of {type(model).__name__} '
                f'(level {level!r}, augment {name}) is not supported; it '
                'draws input/feature/embedding Mixup, feature AlignMix, '
                'recon and logits MultiMix')
        if level == 'none':
            continue
        if level == 'input':
            rows.append(('input: Mixup',
                         ('image', to_display(model,
                                              _mix(x, x[partner], lam)))))
        elif level == 'recon':
            rows.append(('recon: decoder(x)',
                         _decode(model, model.extract_feat(x))))
        elif level == 'feature':
            rows.extend(_feature_row(model, x, partner, lam, mode, name))
        elif level == 'embedding':
            emb = _as_tuple(model.extract_feat(x))[-1]
            mixed = _mix(emb, emb[partner], lam)
            if model.decoder is not None:
                rows.append(('embedding: Mixup -> decoder',
                             _decode(model, mixed)))
            else:
                h, w = _near_square(mixed[0].numel())
                rows.append((f'embedding: Mixup ({h}x{w})',
                             ('heatmap', mixed.reshape(-1, h, w)
                              .cpu().numpy())))
        else:  # logits: MultiMix weights over the batch
            weights = aug.weights(x.shape[0], x.device)
            cols = min(weights.shape[1], x.shape[0])
            rows.append(('logits: MultiMix weights over the inputs',
                         ('bars', weights[:, :cols].t().cpu().numpy())))
    return rows


def _short(classes, label):
    if classes is not None and 0 <= label < len(classes):
        return str(classes[label])[:10]
    return str(label)


def draw(path, images, partner, labels, lam, rows, classes):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    n = len(labels)
    all_rows = [('inputs x', ('image', images)),
                ("partners x'", ('image', images[partner]))] + rows
    fig, axes = plt.subplots(len(all_rows), n, squeeze=False,
                             figsize=(1.7 * n + 1.2, 1.7 * len(all_rows)))
    for r, (title, (kind, data)) in enumerate(all_rows):
        for j in range(n):
            ax = axes[r, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if kind == 'image':
                ax.imshow(data[j], cmap='gray' if data.ndim == 3 else None,
                          vmin=0, vmax=1)
            elif kind == 'heatmap':
                ax.imshow(data[j], cmap='viridis')
            elif j < len(data):  # bars: weights of combination j
                ax.bar(np.arange(n), data[j], color='tab:blue')
                ax.set_ylim(0, 1)
                ax.set_xticks(np.arange(n))
                ax.tick_params(labelsize=5)
            else:
                ax.axis('off')
            if j == 0:
                ax.set_ylabel(title, fontsize=6)
    for j in range(n):
        a, b = int(labels[j]), int(labels[partner[j]])
        axes[0, j].set_title(
            f'λ={lam[j]:.2f}\n{lam[j]:.2f} {_short(classes, a)}\n'
            f'+ {1 - lam[j]:.2f} {_short(classes, b)}', fontsize=6)
    fig.tight_layout()
    out_dir = osp.dirname(osp.abspath(path))
    os.makedirs(out_dir, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def first_alpha(model, default=1.0):
    for mode in model.mix_modes:
        alpha = getattr(mode['augment'], 'alpha', None)
        if type(mode['augment']).__name__ in ('Mixup', 'AlignMix') \
                and alpha is not None:
            return float(alpha)
    return default


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    if args.num < 2:
        raise ValueError(f'--num must be >= 2 (a partner each), got '
                         f'{args.num}')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    model = build_model_from_cfg(cfg, args.checkpoint)
    if not isinstance(model, MixupClassifier):
        raise ValueError(f'mixing_grid draws MixupClassifier configs; '
                         f'{args.config} builds {type(model).__name__}')
    batch, classes = load_batch(cfg, args.num, args.seed)
    data = model.data_preprocessor(batch, False)
    x, samples = data['inputs'], data['data_samples']
    n = x.shape[0]
    if n < 2:
        raise ValueError(f'the train dataset gave {n} image(s); need >= 2')
    labels = [int(s.gt_label.reshape(-1)[0]) for s in samples]
    rng = np.random.default_rng(args.seed)
    partner = _derangement(n, rng)
    alpha = first_alpha(model)
    lam_np = rng.beta(alpha, alpha, n)
    lam = torch.as_tensor(lam_np, dtype=torch.float32, device=x.device)
    rows = mode_rows(model, x, torch.as_tensor(partner, device=x.device),
                     lam)
    draw(args.out, to_display(model, x), partner, labels, lam_np, rows,
         classes)
    summary = dict(
        out=args.out, model=type(model).__name__, num=n, alpha=alpha,
        rows=['inputs', 'partners'] + [title for title, _ in rows],
        lam=[round(float(v), 4) for v in lam_np], labels=labels,
        partner_labels=[labels[p] for p in partner])
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
