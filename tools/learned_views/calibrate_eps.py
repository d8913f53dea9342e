"""Suggest W-search's eps1 / eps2 from expert-view distances (U10).

Usage::

    python tools/learned_views/calibrate_eps.py CONFIG CKPT \
        [--prefix ''] [--num-images 2000] [--pairs 1] \
        [--loader train_dataloader] [--embed {proj,backbone}] \
        [--batch-size 256] [--seed 0]

CONFIG is a pretraining config (e.g. the SimCLR / SimSiam baseline whose
frozen encoder drives W-search) and CKPT its checkpoint (``--prefix ''``:
a runner checkpoint of the whole model). The embedding is backbone + neck
(``--embed backbone``: the pooled last stage), in eval mode, L2-normalised
(spec A1/A2). The expert transform is the config's own view pipeline: the
first branch of the first ``MultiView`` of the ``--loader`` dataset's
pipeline, applied to the raw images (the anchors) of the first
``--num-images`` samples in dataset order. With
:func:`mmmix.ops.latent_views.expert_distances` it measures the mean
anchor<->expert and expert<->expert distances over ``--pairs`` rounds and
prints, as the last line, a JSON object with them and the suggestions
``eps1`` = the anchor<->expert distance (spec 3.2) and ``eps2 = eps1 +
0.2`` (the spec's Table 13 rule).
"""
import argparse
import json
import os.path as osp
import random

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config
from mmengine.registry import init_default_scope

from mmmix.datasets.fingerprint import raw_image
from mmmix.engine.view_generation import (
    EMBEDS,
    build_clean_dataset,
    build_embedding,
    innermost_dataset_cfg,
)
from mmmix.ops.latent_views import expert_distances
from mmmix.registry import TRANSFORMS
from mmmix.utils import register_all_modules

EPS2_MARGIN = 0.2


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--prefix', default='',
                        help="checkpoint key prefix ('' = whole model)")
    parser.add_argument('--num-images', type=int, default=2000)
    parser.add_argument('--pairs', type=int, default=1)
    parser.add_argument('--loader', default='train_dataloader')
    parser.add_argument('--embed', choices=EMBEDS, default='proj')
    parser.add_argument('--batch-size', type=int, default=256)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    for name in ('num_images', 'pairs', 'batch_size'):
        if getattr(args, name) < 1:
            parser.error(f'--{name.replace("_", "-")} must be >= 1, got '
                         f'{getattr(args, name)}')
    return args


def expert_branch(cfg, loader_key: str) -> list:
    """The transforms of the first branch of the first ``MultiView`` of
    the dataset pipeline (the expert views)."""
    pipeline = innermost_dataset_cfg(cfg, loader_key)['pipeline']
    for t in pipeline:
        if str(t.get('type', '')).split('.')[-1] == 'MultiView':
            branches = t['transforms']
            if not branches:
                break
            return list(branches[0])
    raise ValueError(f'the {loader_key} pipeline has no MultiView with '
                     'transforms: cannot tell the expert views; its '
                     f'transforms: {[t.get("type") for t in pipeline]}')


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, C)`` -> float ``(C, H, W)``."""
    img = np.asarray(img)
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(
        2, 0, 1))).float()


def make_transform_fn(branch: Compose, grey: bool):
    """A batch of float pixel images -> one expert view of each."""

    def fn(batch: torch.Tensor) -> torch.Tensor:
        out = []
        for x in batch:
            img = x.clamp(0, 255).round().to(torch.uint8).permute(
                1, 2, 0).cpu().numpy()
            if grey:
                img = img[..., 0]
            img = np.ascontiguousarray(img)
            results = branch(dict(img=img, img_shape=img.shape[:2],
                                  ori_shape=img.shape[:2]))
            out.append(_to_tensor(results['img']))
        shapes = {tuple(v.shape) for v in out}
        if len(shapes) != 1:
            raise ValueError(f'expert views differ in shape: {shapes}')
        return torch.stack(out).to(batch.device)

    return fn


def main(argv=None):
    args = parse_args(argv)
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(args.config)
    model, embed_fn = build_embedding(cfg, args.checkpoint, args.prefix,
                                      args.embed)
    device = next(model.parameters()).device
    init_default_scope(cfg.get('default_scope', 'mmmix'))
    branch = Compose([TRANSFORMS.build(t)
                      for t in expert_branch(cfg, args.loader)])
    dataset = build_clean_dataset(cfg, args.loader)
    num = min(args.num_images, len(dataset))
    raws = [raw_image(dataset, i) for i in range(num)]
    shapes = {r.shape for r in raws}
    if len(shapes) != 1:
        raise ValueError(f'the raw images differ in shape ({len(shapes)} '
                         'shapes): calibrate on a dataset of equal-size '
                         'images')
    grey = raws[0].ndim == 2
    images = torch.stack([_to_tensor(r) for r in raws]).to(device)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    dist = expert_distances(embed_fn, images,
                            make_transform_fn(branch, grey),
                            n_pairs=args.pairs, batch_size=args.batch_size,
                            modules=[model])
    eps1 = dist['anchor_expert']
    summary = dict(config=osp.basename(args.config), num_images=num,
                   pairs=args.pairs, embed=args.embed, **dist,
                   eps1=eps1, eps2=eps1 + EPS2_MARGIN,
                   eps2_rule=f'eps1 + {EPS2_MARGIN} (spec Table 13)')
    print(json.dumps(summary))
    return summary


if __name__ == '__main__':
    main()
