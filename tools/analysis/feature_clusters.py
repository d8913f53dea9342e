"""Cluster purity of a trained model's features: k-means NMI vs the classes.

Usage::

    python tools/analysis/feature_clusters.py CONFIG CHECKPOINT \
        [--loader query|bank] [--num-clusters 10 100] [--seeds 0 1 2] \
        [--out FILE] [--cfg-options K=V ...]

Builds the config's model, loads the checkpoint and embeds the images of
its ``KNNEvalHook`` dataloader (``query``: the held-out queries, default;
``bank``: the labelled bank) with the same features the k-NN evaluation
uses (the backbone's last stage, global-average-pooled, L2-normalised).
For every ``k`` in ``--num-clusters`` it runs faiss k-means
(:func:`mmmix.ops.kmeans`, 20 iterations) once per seed and reports the
normalised mutual information (scikit-learn) of the clusters with the true
labels, mean and per seed. Writes ``FILE`` (default
``feature_clusters.json`` beside the checkpoint) and prints the same JSON
as its last line: ``{"nmi_k10": ..., "nmi_k100": ..., ...}``.
"""
import argparse
import json
import os.path as osp

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

from mmmix.engine import build_model_from_cfg, find_hook_cfg
from mmmix.engine.feature_extraction import extract_features
from mmmix.ops.clustering import kmeans
from mmmix.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--loader', choices=('query', 'bank'),
                        default='query')
    parser.add_argument('--num-clusters', nargs='+', type=int,
                        default=[10, 100])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--out')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def cluster_nmi(feats, labels, num_clusters, seeds):
    """NMI of k-means clusters of ``feats`` with ``labels``, per seed."""
    from sklearn.metrics import normalized_mutual_info_score
    truth = labels.numpy()
    out = []
    for seed in seeds:
        _, assign, _ = kmeans(feats, num_clusters, niter=20, seed=seed)
        out.append(float(normalized_mutual_info_score(truth,
                                                      assign.numpy())))
    return out


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    hook = find_hook_cfg(cfg, 'KNNEvalHook')
    model = build_model_from_cfg(cfg, args.checkpoint)
    loader = Runner.build_dataloader(hook[f'{args.loader}_dataloader'],
                                     seed=0)
    feats, labels = extract_features(model, loader,
                                     out_index=hook.get('out_index', -1))
    if not bool((labels >= 0).all()):
        raise ValueError('the dataloader has images without labels')
    feats = F.normalize(feats.float(), dim=1)
    result = dict(loader=args.loader, num_samples=int(feats.shape[0]),
                  seeds=list(args.seeds))
    for k in args.num_clusters:
        nmis = cluster_nmi(feats, labels, k, args.seeds)
        result[f'nmi_k{k}'] = sum(nmis) / len(nmis)
        result[f'nmi_k{k}_per_seed'] = nmis
        print(f'k={k}: NMI {result[f"nmi_k{k}"]:.4f} '
              f'(seeds {", ".join(f"{v:.4f}" for v in nmis)})')
    out = args.out or osp.join(osp.dirname(osp.abspath(args.checkpoint)),
                               'feature_clusters.json')
    with open(out, 'w') as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result))


if __name__ == '__main__':
    torch.set_grad_enabled(False)
    main()
