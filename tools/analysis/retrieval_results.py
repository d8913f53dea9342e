"""Top-k retrieval results of a few queries, drawn with their images.

Usage::

    python tools/analysis/retrieval_results.py CONFIG [--checkpoint CKPT] \
        --out FIG.png [--queries 5] [--topk 8] [--split test|val] \
        [--max-samples N] [--seed 0] [--cfg-options K=V ...]

Builds the config's model (random init without ``--checkpoint``) and embeds
the images of its ``test_dataloader`` (``--split val``: the
``val_dataloader``; ``--max-samples``: a random subset) with
``extract_features``: the model's ``extract_feat`` pooled, i.e. the unit
embedding of a ``MetricRetriever`` and the pooled backbone/neck output of
other models. As in the retrieval evaluation of the Fashion-MNIST, CUB,
Cars and SOP configs, every image queries all the others (itself
excluded) by cosine similarity (:func:`mmmix.ops.retrieve`, faiss).

``--queries`` random queries (``--seed``) are drawn, one row each: the
query (blue border) and its ``--topk`` nearest gallery images, with a green
border for the query's class and red otherwise, and their similarity.
The last printed line is a JSON summary with, per query, its index,
label, the retrieved indices/labels and ``precision_at_k`` (fraction of
the top-k of the query's class), and their mean.

Limits: query/gallery splits given by the data (In-Shop's ``is_query``)
are not used: all images are both queries and gallery.
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config, DictAction

from mmmix.engine import build_eval_loader, build_model_from_cfg
from mmmix.engine.feature_extraction import extract_features
from mmmix.ops import retrieve
from mmmix.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--out', required=True)
    parser.add_argument('--queries', type=int, default=5)
    parser.add_argument('--topk', type=int, default=8)
    parser.add_argument('--split', choices=('test', 'val'), default='test')
    parser.add_argument('--max-samples', type=int)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def build_loader(cfg, split, max_samples, seed):
    """The split's dataloader in dataset order, over at most
    ``max_samples`` random samples."""
    loader_cfg = cfg.get(f'{split}_dataloader')
    if not loader_cfg:
        raise ValueError(f'{cfg.filename} has no {split}_dataloader')
    return build_eval_loader(loader_cfg, max_samples, seed)


def image_of(dataset, index):
    """``(h, w)`` or ``(h, w, 3)`` RGB array of a sample, as the test
    pipeline gives it (``PackInputs``: ``(c, h, w)``, BGR for colour)."""
    img = dataset[int(index)]['inputs']
    if isinstance(img, (list, tuple)):
        img = img[0]
    img = torch.as_tensor(img).float().cpu()
    if img.dim() == 2:
        img = img[None]
    lo, hi = float(img.min()), float(img.max())
    if lo < 0:  # normalised by the pipeline: min-max
        img = (img - lo) / max(hi - lo, 1e-6)
    elif hi > 1:  # 0-255
        img = img / 255
    if img.shape[0] == 1:
        return img[0].numpy()
    return img[:3].flip(0).permute(1, 2, 0).numpy()


def _name(classes, label):
    if classes is not None and 0 <= label < len(classes):
        return str(classes[label])[:14]
    return str(label)


def _frame(ax, colour):
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_edgecolor(colour)
        spine.set_linewidth(4)


def draw(path, dataset, queries, sims, indices, labels, classes):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    nq, k = indices.shape
    fig, axes = plt.subplots(nq, k + 1, squeeze=False,
                             figsize=(1.5 * (k + 1), 1.75 * nq))
    for r, q in enumerate(queries):
        ax = axes[r, 0]
        img = image_of(dataset, q)
        ax.imshow(img, cmap='gray' if img.ndim == 2 else None, vmin=0,
                  vmax=1)
        _frame(ax, 'tab:blue')
        ax.set_title(f'query {q}\n{_name(classes, labels[q])}', fontsize=7)
        for j in range(k):
            g = indices[r, j]
            ax = axes[r, j + 1]
            img = image_of(dataset, g)
            ax.imshow(img, cmap='gray' if img.ndim == 2 else None, vmin=0,
                      vmax=1)
            same = labels[g] == labels[q]
            _frame(ax, 'tab:green' if same else 'tab:red')
            ax.set_title(f'#{j + 1} {sims[r, j]:.2f}\n'
                         f'{_name(classes, labels[g])}', fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


@torch.no_grad()
def main(argv=None):
    args = parse_args(argv)
    if args.queries < 1 or args.topk < 1:
        raise ValueError('--queries and --topk must be >= 1')
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg, args.checkpoint)
    loader = build_loader(cfg, args.split, args.max_samples, args.seed)
    dataset = loader.dataset
    classes = dataset.metainfo.get('classes')
    feats, labels = extract_features(model, loader, progress=False)
    n = len(feats)
    if args.topk > n - 1:
        raise ValueError(f'--topk {args.topk} exceeds the {n - 1} other '
                         f'images of the {args.split} split')
    if not bool((labels >= 0).all()):
        raise ValueError('the dataloader has images without labels')
    labels = labels.numpy()
    rng = np.random.default_rng(args.seed)
    queries = np.sort(rng.choice(n, min(args.queries, n), replace=False))
    # all images query all others (self excluded), then keep the chosen
    # rows; only the chosen rows are searched when the split is large
    sims, indices = retrieve(feats[queries].numpy(), args.topk + 1,
                             gallery=feats.numpy())
    own = indices == queries[:, None]
    own[~own.any(1), -1] = True
    keep = ~own
    shape = (len(queries), args.topk)
    sims, indices = sims[keep].reshape(shape), indices[keep].reshape(shape)
    draw(args.out, dataset, queries, sims, indices, labels, classes)
    per_query = []
    for q, row in zip(queries, indices):
        hits = labels[row] == labels[q]
        per_query.append(dict(
            index=int(q), label=int(labels[q]),
            retrieved=[int(i) for i in row],
            retrieved_labels=[int(v) for v in labels[row]],
            precision_at_k=float(hits.mean())))
    summary = dict(
        out=args.out, split=args.split, num_gallery=int(n), topk=args.topk,
        queries=per_query,
        mean_precision_at_k=float(np.mean(
            [q['precision_at_k'] for q in per_query])))
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
