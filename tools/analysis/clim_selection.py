"""CLIM positive selection of a trained model: every mode, and a figure.

Usage::

    python tools/analysis/clim_selection.py CONFIG CHECKPOINT --out-dir DIR \
        [--modes center_wise knn kmeans random] [--num-show 8] [--seed 0] \
        [--cfg-options K=V ...]

Builds the config's model, loads the checkpoint and embeds the training
images with the config's ``CLIMHook`` (its dataloader and feature source:
the key encoder by default), then selects positives with each mode of the
paper's Table 6 using the hook's clusters, neighbours and pool (``knn``
keeps the 10 nearest, as the ablation does) and writes

* ``DIR/clim_selection.json``: for each mode the statistics of
  :func:`mmmix.ops.selection_stats`, among them ``label_precision``: the
  probability that a drawn positive has its anchor's label (exact); and
  ``intra_class_similarity`` of the same features (CLIM's Table 10 measure,
  :func:`mmmix.ops.intra_class_similarity`);
* ``DIR/clim_positives.png``: ``--num-show`` random anchors (first column)
  followed by their centre-wise pool, a green frame where the positive
  shares the anchor's label, red where it does not.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmmix.engine import build_model_from_cfg, find_hook_cfg
from mmmix.engine.feature_extraction import extract_features
from mmmix.ops.positive_selection import (
    SELECTION_MODES,
    select_positives,
    selection_stats,
)
from mmmix.ops.retrieval import intra_class_similarity
from mmmix.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--modes', nargs='+', default=list(SELECTION_MODES),
                        choices=list(SELECTION_MODES))
    parser.add_argument('--num-show', type=int, default=8)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def _image(dataset, idx):
    img = dataset[idx]['inputs']
    img = img[0] if isinstance(img, list) else img
    img = img.float()
    img = (img - img.min()) / (img.max() - img.min()).clamp(min=1e-6)
    return img.permute(1, 2, 0).squeeze(-1).numpy()


def plot_positives(path, dataset, pool, labels, anchors):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    cols = 1 + pool.shape[1]
    fig, axes = plt.subplots(len(anchors), cols,
                             figsize=(1.1 * cols, 1.15 * len(anchors)),
                             squeeze=False)
    for row, i in enumerate(anchors):
        for col, j in enumerate([i] + pool[i].tolist()):
            ax = axes[row, col]
            ax.imshow(_image(dataset, j), cmap='gray')
            ax.set_xticks([])
            ax.set_yticks([])
            color = 'black' if col == 0 else (
                'green' if labels[j] == labels[i] else 'red')
            for side in ax.spines.values():
                side.set_color(color)
                side.set_linewidth(2.5)
            if row == 0:
                ax.set_title('anchor' if col == 0 else f'pos {col}',
                             fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    hook = find_hook_cfg(cfg, 'CLIMHook')
    model = build_model_from_cfg(cfg, args.checkpoint)
    loader = Runner.build_dataloader(hook['dataloader'], seed=args.seed)
    source = hook.get('feat_source', 'key')
    feats, labels = extract_features(
        model, loader,
        feature_fn=lambda m, x: m.selection_features(x, source))
    os.makedirs(args.out_dir, exist_ok=True)
    k = hook.get('num_neighbors', 40)
    pool_size = hook.get('pool_size', 10)
    results = {}
    pools = {}
    for mode in args.modes:
        table, info = select_positives(
            feats, mode=mode, num_clusters=hook.get('num_clusters'),
            num_neighbors=pool_size if mode == 'knn' else k,
            pool_size=pool_size, fill=hook.get('fill', 'topup'),
            seed=args.seed)
        results[mode] = selection_stats(
            table, info, labels if (labels >= 0).any() else None)
        if mode == 'center_wise':
            pools[mode] = table.members.view(-1, pool_size)
        print(mode, json.dumps(results[mode]))
    summary = dict(config=args.config, checkpoint=args.checkpoint,
                   num_samples=int(feats.shape[0]), feat_source=source,
                   num_clusters=hook.get('num_clusters'), num_neighbors=k,
                   pool_size=pool_size, modes=results)
    if (labels >= 0).any():
        summary['intra_class_similarity'] = intra_class_similarity(
            feats, labels)
        print('intra_class_similarity', summary['intra_class_similarity'])
    with open(osp.join(args.out_dir, 'clim_selection.json'), 'w') as f:
        json.dump(summary, f, indent=1)
    if 'center_wise' in pools and args.num_show > 0:
        rng = np.random.default_rng(args.seed)
        anchors = rng.choice(feats.shape[0], args.num_show, replace=False)
        plot_positives(osp.join(args.out_dir, 'clim_positives.png'),
                       loader.dataset, pools['center_wise'],
                       labels.tolist(), anchors.tolist())
    print(f'wrote {args.out_dir}')


if __name__ == '__main__':
    torch.set_grad_enabled(False)
    main()
