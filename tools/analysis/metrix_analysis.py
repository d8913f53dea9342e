"""Metrix analysis: utilization, alignment, uniformity and positivity.

Usage::

    python tools/analysis/metrix_analysis.py CONFIG CHECKPOINT \
        --out-dir DIR [--split test] [--max-samples N] [--mix-epochs 1] \
        [--num-pairs 10000] [--seed 0] [--cfg-options K=V ...]

Builds the model of the config, loads the checkpoint, extracts the
L2-normalised embeddings (``model(inputs, mode='tensor')``) of the training
set and of the evaluation split, and writes

* ``DIR/metrix_analysis.json``:

  - ``utilization``: u(Q, X) of eq. (4.25), the test embeddings Q against
    the clean training embeddings X;
  - ``utilization_mixed``: u(Q, X^) with X^ = X plus ``--mix-epochs``
    epochs of embedding-mixed pos-neg training pairs (each training
    example once per epoch with a uniformly drawn example of another class,
    lam ~ Beta(2, 2) per pair, re-normalised); u(Q, X^) <= u(Q, X);
  - ``alignment`` (alpha = 2, over all same-label pairs of the test set)
    and ``uniformity`` (t = 2, all pairs of the test set), Wang & Isola;
  - ``positivity``: for lam = 0.05, 0.10, ..., 0.95, the fraction of
    (anchor, mixed) pairs whose MS derivative (eq. 4.17) is <= 0
    (``empirical``), and F_lam(s*) (``theoretical``, eq. 4.24) with the
    threshold s* of eq. (4.23); mixes are embedding mixes of a training
    example p and one of another class, the anchor another example of p's
    class (``--num-pairs`` random triplets, the same for every lam);
  - ``settings`` and the sample counts;

* ``DIR/positivity.png``: both positivity curves against lam.

Assumptions (the thesis does not state them, see the Metrix spec §8 A17 and
A19): the training set is embedded with the **evaluation pipeline** of the
chosen split (no augmentation) in dataset order; one epoch of mixes is one
mix per training example; MS constants alpha = 18, beta = 75, base = 0.77
(pytorch-metric-learning naming). The model's ``data_preprocessor`` must
batch the inputs (as mmpretrain's ``ClsDataPreprocessor`` does).
``--max-samples`` keeps the first N samples of each set (in dataset order,
which may cover few classes).
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import warnings
from typing import Optional, Sequence

import numpy as np
import torch
from mmengine.config import Config, ConfigDict, DictAction
from mmengine.device import get_device

from mmmix.engine import (
    MMMixRunner,
    build_model_from_cfg,
    extract_features,
)
from mmmix.ops import (
    alignment,
    anchor_mixed_similarities,
    l2_normalize,
    pos_neg_mixup,
    positivity_curve,
    uniformity,
    utilization,
)
from mmmix.utils import register_all_modules

JSON_NAME = 'metrix_analysis.json'
PLOT_NAME = 'positivity.png'
DEFAULT_LAMS = tuple(round(0.05 * i, 2) for i in range(1, 20))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Metrix analysis: utilization, alignment, uniformity '
        'and positivity of a metric-learning model')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out-dir', required=True,
                        help='folder for metrix_analysis.json and '
                        'positivity.png')
    parser.add_argument('--split', choices=('test', 'val'), default='test',
                        help='evaluation dataloader of the config (default '
                        'test)')
    parser.add_argument('--max-samples', type=int, default=None,
                        help='keep the first N samples of each set')
    parser.add_argument('--mix-epochs', type=int, default=1,
                        help='epochs of mixed training embeddings in X^ '
                        '(default 1)')
    parser.add_argument('--num-pairs', type=int, default=10000,
                        help='(anchor, positive, negative) triplets of the '
                        'positivity curve (default 10000)')
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the mixing pairs and lam')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value '
                        'pairs')
    args = parser.parse_args(argv)
    if args.max_samples is not None and args.max_samples < 2:
        parser.error(f'--max-samples must be >= 2, got {args.max_samples}')
    if args.mix_epochs < 0:
        parser.error(f'--mix-epochs must be >= 0, got {args.mix_epochs}')
    if args.num_pairs < 1:
        parser.error(f'--num-pairs must be >= 1, got {args.num_pairs}')
    return args


def _dataset_pipeline(dataset_cfg):
    """The pipeline of a dataset config, looking inside wrappers."""
    if 'pipeline' in dataset_cfg:
        return dataset_cfg['pipeline']
    if 'dataset' in dataset_cfg:
        return _dataset_pipeline(dataset_cfg['dataset'])
    if dataset_cfg.get('datasets'):
        return _dataset_pipeline(dataset_cfg['datasets'][0])
    return None


def _set_pipeline(dataset_cfg, pipeline) -> None:
    if 'pipeline' in dataset_cfg:
        dataset_cfg['pipeline'] = copy.deepcopy(pipeline)
    elif 'dataset' in dataset_cfg:
        _set_pipeline(dataset_cfg['dataset'], pipeline)
    for sub in dataset_cfg.get('datasets', None) or ():
        _set_pipeline(sub, pipeline)


def train_eval_loader_cfg(cfg: Config, split: str = 'test') -> ConfigDict:
    """The training set seen like the evaluation split.

    The ``{split}_dataloader`` settings (batch size, workers, collate) with
    the training dataset, its pipeline replaced by the evaluation one, and
    an unshuffled ``DefaultSampler`` (no balanced sampling, no repeats).
    """
    key = f'{split}_dataloader'
    if cfg.get(key) is None:
        raise ValueError(f'the config has no {key}')
    if cfg.get('train_dataloader') is None:
        raise ValueError('the config has no train_dataloader')
    loader = copy.deepcopy(cfg[key])
    dataset = copy.deepcopy(cfg.train_dataloader.dataset)
    pipeline = _dataset_pipeline(loader.dataset)
    if pipeline is not None:
        _set_pipeline(dataset, pipeline)
    loader.dataset = dataset
    loader.sampler = dict(type='DefaultSampler', shuffle=False)
    loader.pop('batch_sampler', None)
    return loader


def build_model_and_loaders(cfg: Config, checkpoint: str,
                            split: str = 'test', seed: int = 0):
    """The model with the checkpoint loaded, the training loader (evaluation
    pipeline) and the ``{split}`` loader."""
    model = build_model_from_cfg(cfg, checkpoint)
    train_cfg = train_eval_loader_cfg(cfg, split)
    train_loader = MMMixRunner.build_dataloader(train_cfg, seed=seed)
    test_loader = MMMixRunner.build_dataloader(cfg[f'{split}_dataloader'],
                                               seed=seed)
    return model, train_loader, test_loader


class _FirstSamples:
    """The first batches of a loader, enough for ``max_samples`` samples."""

    def __init__(self, loader, max_samples: int):
        self.loader = loader
        self.max_samples = max_samples

    def __len__(self) -> int:
        batch_size = getattr(self.loader, 'batch_size', None)
        n = len(self.loader)
        if batch_size:
            n = min(n, math.ceil(self.max_samples / batch_size))
        return n

    def __iter__(self):
        seen = 0
        for data in self.loader:
            if seen >= self.max_samples:
                return
            yield data
            seen += len(data['inputs'])


def _embed(model, inputs):
    return model(inputs, mode='tensor')


def extract_embeddings(model, loader, max_samples: Optional[int] = None):
    """L2-normalised embeddings (float32 numpy) and labels (int64 numpy)."""
    if max_samples is not None:
        loader = _FirstSamples(loader, max_samples)
    feats, labels = extract_features(model, loader, feature_fn=_embed)
    if max_samples is not None:
        feats, labels = feats[:max_samples], labels[:max_samples]
    if feats.dim() != 2 or len(feats) == 0:
        raise ValueError('no embeddings extracted (empty loader?)')
    return l2_normalize(feats), labels.numpy().astype(np.int64)


def _check_labels(labels: np.ndarray, name: str) -> None:
    if np.any(labels < 0):
        raise ValueError(f'every {name} sample needs a gt_label')


def plot_positivity(curve: dict, path: str) -> None:
    """Empirical and theoretical positivity against lam, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(5, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot(curve['lambda'], curve['empirical'], 'o-',
            label=r'empirical: $\partial\tilde\ell/\partial s \leq 0$')
    ax.plot(curve['lambda'], curve['theoretical'], 's--',
            label=r'theoretical: $F_\lambda(s^*)$')
    ax.set_xlabel(r'$\lambda$')
    ax.set_ylabel('Pr(positive)')
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(loc='upper left')
    fig.tight_layout()
    fig.savefig(path)


def analyse(model,
            train_loader,
            test_loader,
            out_dir: str,
            mix_epochs: int = 1,
            max_samples: Optional[int] = None,
            num_pairs: int = 10000,
            lams: Sequence[float] = DEFAULT_LAMS,
            mix_alpha: float = 2.0,
            ms_alpha: float = 18.0,
            ms_beta: float = 75.0,
            ms_base: float = 0.77,
            align_alpha: float = 2.0,
            unif_t: float = 2.0,
            seed: int = 0) -> dict:
    """Run the analysis and write ``metrix_analysis.json`` and
    ``positivity.png`` into ``out_dir``.

    Args:
        model: a module with a ``data_preprocessor`` (e.g. an mmengine
            ``BaseModel``) whose ``forward(inputs, mode='tensor')`` returns
            ``(B, d)`` embeddings.
        train_loader, test_loader: iterables of mmpretrain-style batches
            ``{'inputs': ..., 'data_samples': [...]}`` with ``gt_label``.
        out_dir (str): output folder (created).
        mix_epochs (int): epochs of mixed embeddings in X^.
        max_samples (int, optional): keep the first N samples of each set.
        num_pairs (int): triplets of the positivity curve.
        lams: mixing factors of the positivity curve.
        mix_alpha (float): lam ~ Beta(mix_alpha, mix_alpha) of the mixes in
            X^.
        ms_alpha, ms_beta, ms_base: MS constants (PML naming).
        align_alpha, unif_t: exponents of alignment and uniformity.
        seed (int): seed of all random draws.

    Returns:
        dict: what is written to the JSON file.
    """
    rng = np.random.default_rng(seed)
    train_emb, train_labels = extract_embeddings(model, train_loader,
                                                 max_samples)
    test_emb, test_labels = extract_embeddings(model, test_loader,
                                               max_samples)
    _check_labels(train_labels, 'training')
    _check_labels(test_labels, 'test')
    mixed = pos_neg_mixup(train_emb, train_labels, mix_epochs, mix_alpha,
                          seed=rng)
    lams = [float(v) for v in lams]
    sims = anchor_mixed_similarities(train_emb, train_labels, lams,
                                     num_pairs, seed=rng)
    result = dict(
        utilization=utilization(test_emb, train_emb),
        utilization_mixed=utilization(
            test_emb, np.concatenate([train_emb, mixed])),
        alignment=alignment(test_emb, alpha=align_alpha, labels=test_labels),
        uniformity=uniformity(
            torch.from_numpy(test_emb).to(get_device()), t=unif_t),
        positivity=positivity_curve(sims, lams, ms_alpha, ms_beta, ms_base),
        num_train=len(train_emb),
        num_test=len(test_emb),
        num_mixed=len(mixed),
        settings=dict(
            mix_epochs=mix_epochs, mix_alpha=mix_alpha, num_pairs=num_pairs,
            ms_alpha=ms_alpha, ms_beta=ms_beta, ms_base=ms_base,
            align_alpha=align_alpha, unif_t=unif_t, max_samples=max_samples,
            seed=seed))
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, JSON_NAME), 'w') as f:
        json.dump(result, f, indent=2)
        f.write('\n')
    try:
        plot_positivity(result['positivity'], osp.join(out_dir, PLOT_NAME))
    except ImportError:
        warnings.warn(f'matplotlib is not installed: no {PLOT_NAME}')
    return result


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    torch.manual_seed(args.seed)
    model, train_loader, test_loader = build_model_and_loaders(
        cfg, args.checkpoint, args.split, args.seed)
    result = analyse(model, train_loader, test_loader, args.out_dir,
                     mix_epochs=args.mix_epochs,
                     max_samples=args.max_samples,
                     num_pairs=args.num_pairs, seed=args.seed)
    pos = result['positivity']
    print(f'utilization u(Q,X) = {result["utilization"]:.4f}, '
          f'u(Q,X^) = {result["utilization_mixed"]:.4f}; alignment = '
          f'{result["alignment"]:.4f}, uniformity = '
          f'{result["uniformity"]:.4f}')
    print('positivity (lambda: empirical / theoretical): ' + ', '.join(
        f'{lam:.2f}: {e:.3f}/{t:.3f}' for lam, e, t in zip(
            pos['lambda'], pos['empirical'], pos['theoretical'])))
    print(f'written {osp.join(args.out_dir, JSON_NAME)} and '
          f'{osp.join(args.out_dir, PLOT_NAME)}', flush=True)
    return result


if __name__ == '__main__':
    main()
