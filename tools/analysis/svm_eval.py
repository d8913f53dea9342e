"""VOC07 linear-SVM / low-shot SVM evaluation of a model's frozen features.

Usage::

    # features of a checkpoint (default: mmpretrain's VOC dataset)
    python tools/analysis/svm_eval.py CONFIG CHECKPOINT --mode svm \
        [--data-root data/VOCdevkit/VOC2007] [--eval-config EVAL_CFG] \
        [--stage -1] [--pool-size 2] [--save-features DIR]
    python tools/analysis/svm_eval.py CONFIG CHECKPOINT --mode low-shot
    # pre-extracted features and 1 / 0 / -1 target matrices
    python tools/analysis/svm_eval.py --features train.npy test.npy \
        --labels train_targets.npy test_targets.npy --mode svm

The benchmark of Goyal et al. 2019 as InterCLR reports it (spec
interclr.md §5.3, §5.4, U11; the maths is :mod:`mmmix.evaluation.svm`):
features of the backbone's last stage (``--stage``, an index into the
backbone's outputs: ``--cfg-options model.backbone.out_indices="(2,)"``
gives res4) average-pooled to 2x2 (``--pool-size``; 2048 x 2 x 2 = 8192
dimensions for a ResNet-50; adaptive pooling, where the reference tools
use a 6x6 window at stride 1 on the 7x7 map), L2-normalised; one linear
SVM per class. ``--mode svm`` chooses each class's cost among ``--costs``
by 3-fold cross-validation on trainval and reports the test AP per class
and the mAP; ``--mode low-shot`` trains on 1, 2, 4, ... 96 positives per
class (5 seeded samples each) and reports the mAP per number of shots and
their mean, the number InterCLR's table gives.

Data: by default mmpretrain's ``VOC`` dataset under ``--data-root``,
split ``trainval`` for training and ``test`` for testing, images resized
to 256 (short side) and centre-cropped to 224. ``--eval-config`` names a
Python file with ``train_dataloader`` and ``test_dataloader`` dicts to
use other data (targets come from the datasets' ``gt_label`` and, for
VOC, ``gt_label_difficult``: a class present only as difficult objects is
ignored, as in the reference tools). The model's data preprocessor comes
from the config.

Prints a table and, as the last line, the results as JSON (also written to
``--out`` if given).
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from mmengine.config import DictAction

from mmmix.evaluation import svm

VOC_PIPELINE = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=256, edge='short'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', nargs='?', help='model config')
    parser.add_argument('checkpoint', nargs='?', help='model checkpoint')
    parser.add_argument('--mode', choices=('svm', 'low-shot'), default='svm')
    parser.add_argument('--features', nargs=2, metavar=('TRAIN', 'TEST'),
                        help='pre-extracted (n, d) .npy features')
    parser.add_argument('--labels', nargs=2, metavar=('TRAIN', 'TEST'),
                        help='(n, C) .npy targets: 1 present, 0 absent, -1 '
                        'ignored (needed with --features)')
    parser.add_argument('--data-root', default='data/VOCdevkit/VOC2007',
                        help="root of the default VOC data (the folder "
                        "with 'JPEGImages', 'Annotations', 'ImageSets')")
    parser.add_argument('--eval-config',
                        help='a Python file with train_dataloader and '
                        'test_dataloader dicts (instead of VOC)')
    parser.add_argument('--stage', type=int, default=-1,
                        help='index into the backbone outputs')
    parser.add_argument('--pool-size', type=int, default=2,
                        help='side of the average-pooled feature map')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-workers', type=int, default=4)
    parser.add_argument('--save-features', metavar='DIR',
                        help='also save the features and targets as .npy')
    parser.add_argument('--costs', type=float, nargs='+',
                        default=list(svm.DEFAULT_COSTS))
    parser.add_argument('--reference-costs', action='store_true',
                        help='append 0.5**k, k = 4..19, to the costs as '
                        'the reference tools do')
    parser.add_argument('--folds', type=int, default=3)
    parser.add_argument('--train-difficult', default='negative',
                        choices=('negative', 'ignore'),
                        help='ignored (-1) training targets are negatives '
                        '(the reference tools) or left out (--mode svm)')
    parser.add_argument('--shots', type=int, nargs='+',
                        default=list(svm.LOW_SHOT_SHOTS))
    parser.add_argument('--num-samples', type=int,
                        default=svm.LOW_SHOT_SAMPLES)
    parser.add_argument('--seed', type=int, default=0,
                        help='seed of the low-shot samples')
    parser.add_argument('--n-jobs', type=int, default=1,
                        help='worker processes over classes')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--out', help='write the JSON results here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, KEY=VALUE')
    args = parser.parse_args(argv)
    if args.features is None:
        if args.config is None or args.checkpoint is None:
            parser.error('give CONFIG and CHECKPOINT, or --features and '
                         '--labels')
    elif args.labels is None:
        parser.error('--features needs --labels')
    if args.pool_size < 1:
        parser.error('--pool-size must be >= 1')
    return args


def voc_dataloader(data_root: str, split: str, batch_size: int,
                   num_workers: int) -> dict:
    """mmpretrain's VOC split, in order, for feature extraction."""
    return dict(
        batch_size=batch_size,
        num_workers=num_workers,
        persistent_workers=False,
        dataset=dict(type='VOC', data_root=data_root, split=split,
                     pipeline=VOC_PIPELINE),
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate'))


def dataset_targets(dataset) -> np.ndarray:
    """The 1 / 0 / -1 target matrix of a (multi- or single-label)
    dataset, from its data infos (no image is read)."""
    num_classes = len(dataset.metainfo['classes'])
    labels, difficult = [], []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        label = info.get('gt_label')
        labels.append(np.atleast_1d(np.asarray(
            label if label is not None else [], dtype=np.int64)))
        difficult.append(info.get('gt_label_difficult') or [])
    return svm.voc_targets(labels, difficult, num_classes)


def pooled_backbone_features(stage: int, pool_size: int):
    """``feature_fn`` for :func:`extract_features`: one backbone output,
    average-pooled to ``pool_size x pool_size`` and flattened."""
    import torch.nn.functional as F

    def fn(model, inputs):
        feats = model.backbone(inputs)
        if isinstance(feats, (tuple, list)):
            feats = feats[stage]
        if feats.dim() != 4:
            raise ValueError('--pool-size needs (b, c, h, w) backbone maps, '
                             f'got {tuple(feats.shape)}')
        return F.adaptive_avg_pool2d(feats, pool_size).flatten(1)

    return fn


def extract(args):
    """Features and targets of the train and test splits."""
    from mmengine.config import Config

    from mmmix.engine import build_model_from_cfg
    from mmmix.engine.feature_extraction import extract_features
    from mmmix.engine.runner import MMMixRunner
    from mmmix.utils import register_all_modules

    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.eval_config:
        eval_cfg = Config.fromfile(args.eval_config)
        loaders = [eval_cfg.train_dataloader, eval_cfg.test_dataloader]
    else:
        loaders = [
            voc_dataloader(args.data_root, split, args.batch_size,
                           args.num_workers)
            for split in ('trainval', 'test')
        ]
    model = build_model_from_cfg(cfg, args.checkpoint)
    fn = pooled_backbone_features(args.stage, args.pool_size)
    out = []
    for loader_cfg in loaders:
        loader = MMMixRunner.build_dataloader(loader_cfg)
        feats, _ = extract_features(model, loader, feature_fn=fn,
                                    progress=not args.no_progress)
        targets = dataset_targets(loader.dataset)
        if len(targets) != len(feats):
            raise RuntimeError(f'{len(feats)} features for '
                               f'{len(targets)} images')
        out.append((feats.numpy(), targets))
    return out


def load_features(args):
    out = []
    for feat_file, label_file in zip(args.features, args.labels):
        out.append((np.load(feat_file), np.load(label_file)))
    return out


def format_svm(res: dict) -> str:
    lines = ['| class | cost | AP |', '|---|---|---|']
    for c, (cost, ap) in enumerate(zip(res['cost'], res['ap'])):
        lines.append(f'| {c} | {cost:g} | {ap:.2f} |')
    lines.append(f"| mean | | {res['mAP']:.2f} |")
    return '\n'.join(lines)


def format_low_shot(res: dict) -> str:
    lines = ['| shots | cost | mAP | std |', '|---|---|---|---|']
    for k in res['shots']:
        lines.append(f"| {k} | {res['cost'][k]:g} | "
                     f"{res['per_shot'][k]:.2f} | "
                     f"{res['per_shot_std'][k]:.2f} |")
    lines.append(f"| mean | | {res['mean_mAP']:.2f} | |")
    return '\n'.join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.features is not None:
        (xtr, ytr), (xte, yte) = load_features(args)
    else:
        (xtr, ytr), (xte, yte) = extract(args)
    if args.save_features:
        os.makedirs(args.save_features, exist_ok=True)
        for name, arr in (('train_feats', xtr), ('train_targets', ytr),
                          ('test_feats', xte), ('test_targets', yte)):
            np.save(osp.join(args.save_features, f'{name}.npy'), arr)
    costs = svm.reference_costs(args.costs) if args.reference_costs \
        else tuple(args.costs)
    common = dict(costs=costs, n_jobs=args.n_jobs,
                  progress=not args.no_progress)
    if args.mode == 'svm':
        res = svm.svm_eval(xtr, ytr, xte, yte, folds=args.folds,
                           train_difficult=args.train_difficult, **common)
        table = format_svm(res)
    else:
        res = svm.low_shot_eval(xtr, ytr, xte, yte, shots=args.shots,
                                num_samples=args.num_samples,
                                seed=args.seed, **common)
        table = format_low_shot(res)
    res = dict(mode=args.mode, feat_dim=int(np.shape(xtr)[1]),
               num_train=len(xtr), num_test=len(xte), **res)
    if res['not_converged']:
        print(f"SVMs of classes {res['not_converged']} stopped at max_iter "
              '(2000) before converging, as the reference allows.')
    print(table)
    text = json.dumps(res)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')
    print(text)
    return res


if __name__ == '__main__':
    main()
