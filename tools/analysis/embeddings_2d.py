"""2-D map (PCA or t-SNE) of a model's features, coloured by class.

Usage::

    python tools/analysis/embeddings_2d.py CONFIG [--checkpoint CKPT] \
        --out FIG.png [--split test|val|train|bank] [--max-points 2000] \
        [--method pca|tsne] [--seed 0] [--cfg-options K=V ...]

Builds the config's model (random init without ``--checkpoint``) and
embeds a dataset with the features the ``KNNEvalHook`` uses (the backbone's
output ``out_index``, global-average-pooled: ``extract_features``).
``--split test`` (default) takes the hook's ``query_dataloader``, or the
config's ``test_dataloader`` without the hook; ``bank`` the hook's
``bank_dataloader``; ``val``/``train`` those dataloaders of the config.
At most ``--max-points`` images (a random subset, ``--seed``) are embedded,
the features are L2-normalised and projected to 2-D by PCA (SVD) or t-SNE
(scikit-learn, PCA init) and scattered, one colour per class, with a
legend of the dataset's class names.

The last printed line is a JSON summary: ``num_points``, ``num_classes``,
``dim`` and the leave-one-out 5-NN accuracy (%, majority vote, ties to the
nearest neighbour's class) in the 2-D map (Euclidean) and in the full
feature space (cosine, as the k-NN evaluation): ``knn5_acc_2d``,
``knn5_acc_full``.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction

from mmmix.engine import build_eval_loader, build_model_from_cfg, find_hook_cfg
from mmmix.engine.feature_extraction import extract_features
from mmmix.ops.retrieval import faiss_search
from mmmix.utils import register_all_modules

SPLITS = ('test', 'val', 'train', 'bank')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--out', required=True)
    parser.add_argument('--split', choices=SPLITS, default='test')
    parser.add_argument('--max-points', type=int, default=2000)
    parser.add_argument('--method', choices=('pca', 'tsne'), default='pca')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def loader_cfg_of(cfg, split):
    """``(dataloader config, out_index)`` for ``split`` (see the doc)."""
    try:
        hook = find_hook_cfg(cfg, 'KNNEvalHook')
    except ValueError:
        hook = None
    if split in ('test', 'bank') and hook is not None:
        key = 'query_dataloader' if split == 'test' else 'bank_dataloader'
        return hook[key], hook.get('out_index', -1)
    if split == 'bank':
        raise ValueError(f'{cfg.filename} has no KNNEvalHook (for --split '
                         'bank)')
    loader = cfg.get(f'{split}_dataloader')
    if not loader:
        raise ValueError(f'{cfg.filename} has no {split}_dataloader')
    return loader, -1


def project_2d(feats, method, seed):
    """``(n, d)`` -> ``(n, 2)`` numpy by PCA (SVD) or t-SNE."""
    x = feats.double()
    if method == 'pca':
        x = x - x.mean(0, keepdim=True)
        _, _, v = torch.linalg.svd(x, full_matrices=False)
        out = x @ v[:2].T
        if out.shape[1] < 2:  # 1-d features
            out = torch.cat([out, torch.zeros_like(out)], 1)
        return out.float().numpy()
    from sklearn.manifold import TSNE
    n = len(x)
    tsne = TSNE(n_components=2, init='pca', random_state=seed,
                perplexity=float(min(30.0, max(1.0, (n - 1) / 3))))
    return tsne.fit_transform(x.float().numpy()).astype(np.float32)


def knn_accuracy(x, labels, k=5, metric='l2'):
    """Leave-one-out ``k``-NN accuracy (%) of ``x`` (``metric``: ``'l2'``
    Euclidean or ``'ip'`` on unit rows)."""
    x = np.ascontiguousarray(x, np.float32)
    labels = np.asarray(labels)
    k = min(k, len(x) - 1)
    if k < 1:
        return float('nan')
    _, idx = faiss_search(x, x, k + 1, metric)
    # drop each row's own index (or the last column when it is missing)
    own = idx == np.arange(len(x))[:, None]
    own[~own.any(1), -1] = True
    idx = idx[~own].reshape(len(x), k)
    neigh = labels[idx]
    correct = 0
    for row, truth in zip(neigh, labels):
        values, counts = np.unique(row, return_counts=True)
        best = values[counts == counts.max()]
        # tie: the class among the tied ones that comes first in rank order
        pred = next(c for c in row if c in best)
        correct += int(pred == truth)
    return 100.0 * correct / len(x)


def draw(path, xy, labels, classes, title):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    present = np.unique(labels)
    cmap = plt.get_cmap('tab10' if len(present) <= 10 else 'tab20')
    fig, ax = plt.subplots(figsize=(7, 6))
    size = 12 if len(xy) <= 2000 else 4
    for i, c in enumerate(present):
        m = labels == c
        name = classes[c] if classes is not None and 0 <= c < len(classes) \
            else str(c)
        ax.scatter(xy[m, 0], xy[m, 1], s=size, alpha=0.7,
                   color=cmap(i % cmap.N), label=f'{c}: {name}',
                   edgecolors='none')
    if len(present) <= 20:
        ax.legend(fontsize=7, markerscale=1.5, loc='best', framealpha=0.7)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    if args.max_points < 2:
        raise ValueError(f'--max-points must be >= 2, got {args.max_points}')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg, args.checkpoint)
    loader_cfg, out_index = loader_cfg_of(cfg, args.split)
    loader = build_eval_loader(loader_cfg, args.max_points, args.seed)
    classes = loader.dataset.metainfo.get('classes')
    feats, labels = extract_features(model, loader, out_index=out_index,
                                     progress=False)
    if len(feats) < 2:
        raise ValueError(f'{len(feats)} features: need at least 2')
    if not bool((labels >= 0).all()):
        raise ValueError('the dataloader has images without labels')
    feats = F.normalize(feats.float(), dim=1)
    xy = project_2d(feats, args.method, args.seed)
    labels = labels.numpy()
    acc_2d = knn_accuracy(xy, labels, 5, 'l2')
    acc_full = knn_accuracy(feats.numpy(), labels, 5, 'ip')
    title = (f'{osp.basename(args.config)}\n{args.method.upper()} of '
             f'{len(xy)} {args.split} features (d={feats.shape[1]}); '
             f'5-NN acc 2-D {acc_2d:.1f}%, full {acc_full:.1f}%')
    draw(args.out, xy, labels, classes, title)
    summary = dict(out=args.out, split=args.split, method=args.method,
                   num_points=int(len(xy)),
                   num_classes=int(len(np.unique(labels))),
                   dim=int(feats.shape[1]), knn5_acc_2d=acc_2d,
                   knn5_acc_full=acc_full)
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
