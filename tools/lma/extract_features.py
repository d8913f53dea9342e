"""Extract the LMA feature bank: frozen backbone features of clean images.

Usage::

    python tools/lma/extract_features.py CONFIG CKPT --out DIR \
        [--flip] [--prefix backbone.] [--dtype float16] \
        [--loader train_dataloader] [--pipeline JSON] [--batch-size 256] \
        [--num-workers N] [--save-images FILE.npy] [--cfg-options K=V ...]

LMA stage A (spec 2.3, 2.6, U1). Builds the model of a pretraining CONFIG
(e.g. the HCA-only SimSiam that serves as ``f``), loads the entries of CKPT
under ``--prefix`` (default ``backbone.``; ``''`` for a backbone-only file
from ``tools/model_converters/extract_backbone.py``) strictly into its
backbone, and embeds every image of the config's training set, in dataset
order, with the model's data preprocessor (normalisation) and the
backbone's last stage, global-average-pooled and L2-normalised.

The images are clean: the dataset's pipeline is replaced by ``PackInputs``
(or ``--pipeline``, a JSON list of transform dicts, e.g. a resize), so no
augmentation is applied. A dataset wrapper without its own pipeline
(``RepeatDataset``, ...) is unwrapped to the dataset that has one: banks
are indexed by that dataset's ``sample_idx``.

``--flip`` also stores the features of the horizontally flipped images
(``feats_flip.npy``, IC-GAN feature augmentation). ``--save-images``
writes the raw images (``(N, *img_shape)`` uint8) for ``KNNReplace``.

Writes a :class:`~mmmix.datasets.FeatureBank` (``feats.npy``,
``meta.json`` with the dataset fingerprint, the checkpoint sha256 and the
preprocessing) and prints a JSON summary as its last line.
"""
import argparse
import copy
import json

import torch
import torch.nn.functional as F
from mmengine.config import Config, DictAction

from mmmix.datasets import FeatureBank, save_raw_images
from mmmix.engine import build_eval_loader, build_model_from_cfg
from mmmix.engine.feature_extraction import extract_features, pool_features
from mmmix.models.utils.lma_sampler import load_prefixed_state_dict
from mmmix.utils import register_all_modules


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out', required=True, help='bank folder')
    parser.add_argument('--flip', action='store_true',
                        help='also store hflip features')
    parser.add_argument('--prefix', default='backbone.',
                        help='checkpoint key prefix of the backbone')
    parser.add_argument('--dtype', choices=('float16', 'float32'),
                        default='float16')
    parser.add_argument('--loader', default='train_dataloader',
                        help='config key of the dataloader to embed')
    parser.add_argument('--pipeline', type=json.loads,
                        default=[dict(type='PackInputs')],
                        help='JSON list of transforms (default PackInputs)')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--num-workers', type=int, default=None)
    parser.add_argument('--save-images', default=None,
                        help='also write the raw images to this .npy file')
    parser.add_argument('--no-progress', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def clean_loader_cfg(cfg, loader_key: str, pipeline, batch_size: int,
                     num_workers=None) -> dict:
    """``cfg[loader_key]`` over the innermost dataset with a pipeline, that
    pipeline replaced by ``pipeline``, in order, ``default_collate``."""
    if loader_key not in cfg:
        raise KeyError(f'the config has no {loader_key!r}')
    loader = copy.deepcopy(cfg[loader_key])
    dataset = loader['dataset']
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset['dataset']
    if 'pipeline' not in dataset:
        raise ValueError(f'no dataset config with a pipeline in '
                         f'{loader_key}.dataset')
    dataset['pipeline'] = list(pipeline)
    loader['dataset'] = dataset
    loader['batch_size'] = batch_size
    loader['collate_fn'] = dict(type='default_collate')
    loader['drop_last'] = False  # training loaders often drop the last batch
    loader.pop('batch_sampler', None)
    if num_workers is not None:
        loader['num_workers'] = num_workers
        loader['persistent_workers'] = num_workers > 0 and loader.get(
            'persistent_workers', False)
    return loader


def backbone_features(model, inputs: torch.Tensor,
                      flip: bool = False) -> torch.Tensor:
    """Pooled last-stage backbone features (``(B, d)``), with the flipped
    images' features concatenated (``(B, 2d)``) when ``flip``."""
    feats = pool_features(model.backbone(inputs))
    if not flip:
        return feats
    return torch.cat([feats, pool_features(model.backbone(inputs.flip(-1)))],
                     dim=1)


def _jsonable(obj):
    return json.loads(json.dumps(obj, default=str))


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg)
    if not hasattr(model, 'backbone'):
        raise AttributeError(f'{type(model).__name__} has no backbone')
    device = next(model.parameters()).device
    load_prefixed_state_dict(model.backbone, args.checkpoint, args.prefix)
    model.to(device).eval()
    loader_cfg = clean_loader_cfg(cfg, args.loader, args.pipeline,
                                  args.batch_size, args.num_workers)
    loader = build_eval_loader(loader_cfg)
    dataset = loader.dataset
    feats, _ = extract_features(
        model, loader,
        feature_fn=lambda m, x: backbone_features(m, x, args.flip),
        progress=not args.no_progress)
    if feats.shape[0] != len(dataset):
        raise RuntimeError(f'{feats.shape[0]} features for {len(dataset)} '
                           'images')
    flip = None
    if args.flip:
        feats, flip = feats.chunk(2, dim=1)
    feats = F.normalize(feats.float(), dim=1)
    if flip is not None:
        flip = F.normalize(flip.float(), dim=1)
    preprocessing = dict(
        pipeline=args.pipeline,
        data_preprocessor=model.data_preprocessor.__class__.__name__,
        mean=getattr(model.data_preprocessor, 'mean', None),
        std=getattr(model.data_preprocessor, 'std', None),
        feature='backbone last stage, global average pool, L2-normalised',
        prefix=args.prefix)
    for key in ('mean', 'std'):
        if isinstance(preprocessing[key], torch.Tensor):
            preprocessing[key] = preprocessing[key].flatten().tolist()
    meta = FeatureBank.save(
        args.out, feats, meta=dict(config=args.config,
                                   loader=args.loader),
        feats_flip=flip, dtype=args.dtype, dataset=dataset,
        checkpoint=args.checkpoint, preprocessing=_jsonable(preprocessing))
    summary = dict(out=args.out, num_samples=meta['num_samples'],
                   dim=meta['dim'], dtype=meta['dtype'],
                   has_flip=meta['has_flip'],
                   checkpoint_sha256=meta['checkpoint_sha256'])
    if args.save_images:
        summary['images'] = args.save_images
        summary['images_shape'] = list(save_raw_images(dataset,
                                                       args.save_images))
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    torch.set_grad_enabled(False)
    main()
