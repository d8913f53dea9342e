"""Figure: real images beside the views a generator makes of them.

Usage::

    python tools/analysis/generated_views.py DATA_CONFIG --out FIG.png \
        [--indices 0 1 2 ...] [--num 8] \
        [--lma-config ICGAN_CONFIG --lma-ckpt CKPT --bank BANK \
         [--lma-samples 4] [--center-crop 28]] \
        [--cache NAME=CACHE_DIR ...] [--cache-views 4] [--seed 0]

Rows: ``--num`` training images of DATA_CONFIG's train dataset (in dataset
order from index 0, or ``--indices``). Columns: the real image; then
``--lma-samples`` LMA samples ``G_ema(z, h_i)`` of the IC-GAN (config
``model.generator``, weights from the GAN checkpoint's ``generator_ema.``,
conditioned on the bank row of the image); then, per ``--cache NAME=DIR``,
the first ``--cache-views`` cached views of the image
(:class:`~mmmix.datasets.ViewCache`, e.g. W-perturb / W-search). Banks and
caches are checked against the dataset's fingerprint (a cache built with
``--max-samples`` has none: its rows must be the dataset's first ones).
The last printed line is a JSON summary.
"""
import argparse
import copy
import json
import os
import os.path as osp

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402

from mmmix.datasets import FeatureBank, ViewCache, to_uint8  # noqa: E402
from mmmix.models.utils import LMASampler  # noqa: E402
from mmmix.registry import DATASETS  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_config')
    parser.add_argument('--out', required=True)
    parser.add_argument('--num', type=int, default=8)
    parser.add_argument('--indices', type=int, nargs='+')
    parser.add_argument('--lma-config')
    parser.add_argument('--lma-ckpt')
    parser.add_argument('--bank')
    parser.add_argument('--lma-samples', type=int, default=4)
    parser.add_argument('--center-crop', type=int)
    parser.add_argument('--cache', action='append', default=[],
                        metavar='NAME=DIR')
    parser.add_argument('--cache-views', type=int, default=4)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if args.lma_config and not (args.lma_ckpt and args.bank):
        parser.error('--lma-config needs --lma-ckpt and --bank')
    for item in args.cache:
        if '=' not in item:
            parser.error(f'--cache takes NAME=DIR, got {item!r}')
    return args


def train_dataset(cfg):
    """The config's train dataset with the pipeline reduced to nothing
    (raw images)."""
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    ds_cfg['pipeline'] = []
    return DATASETS.build(ds_cfg)


def raw_image(dataset, idx: int) -> np.ndarray:
    return np.asarray(dataset[idx]['img'])


def to_display(img: np.ndarray) -> np.ndarray:
    """uint8 HW / HWC (BGR for colour datasets) -> displayable array."""
    if img.ndim == 3 and img.shape[2] == 1:
        return img[..., 0]
    if img.ndim == 3:
        return img[..., ::-1]
    return img


def main(argv=None):
    args = parse_args(argv)
    import mmmix  # noqa: F401  (registers the modules)
    cfg = Config.fromfile(args.data_config)
    dataset = train_dataset(cfg)
    indices = args.indices or list(range(args.num))
    bad = [i for i in indices if not 0 <= i < len(dataset)]
    if bad:
        raise IndexError(f'--indices {bad} out of range [0, {len(dataset)})')
    columns = [('real', [[raw_image(dataset, i)] for i in indices])]

    if args.lma_config:
        gan_cfg = Config.fromfile(args.lma_config)
        bank = FeatureBank.load(args.bank, dataset=dataset)
        sampler = LMASampler(
            generator=gan_cfg.model.generator, checkpoint=args.lma_ckpt,
            bank=bank, center_crop=args.center_crop)
        gen = torch.Generator().manual_seed(args.seed)
        idx = torch.tensor(indices).repeat_interleave(args.lma_samples)
        imgs = to_uint8(sampler.sample(idx, generator=gen))  # (B, H, W, C)
        columns.append(('LMA', [
            list(imgs[r * args.lma_samples:(r + 1) * args.lma_samples])
            for r in range(len(indices))
        ]))
    for item in args.cache:
        name, path = item.split('=', 1)
        cache = ViewCache.open(path)
        if cache.meta.get('subset'):
            # built with --max-samples: rows are the dataset's first ones
            if max(indices) >= cache.num_samples:
                raise IndexError(f'cache {path} holds the first '
                                 f'{cache.num_samples} images only')
        else:
            cache = ViewCache.open(path, dataset=dataset)
        k = min(args.cache_views, cache.num_views)
        columns.append((name, [[cache.get(s, i) for s in range(k)]
                               for i in indices]))

    ncols = sum(len(rows[0]) for _, rows in columns)
    fig, axes = plt.subplots(
        len(indices), ncols, figsize=(1.1 * ncols, 1.15 * len(indices)),
        squeeze=False)
    for r in range(len(indices)):
        c = 0
        for name, rows in columns:
            for j, img in enumerate(rows[r]):
                ax = axes[r, c]
                ax.imshow(to_display(img), cmap='gray', vmin=0, vmax=255)
                ax.set_xticks([])
                ax.set_yticks([])
                if r == 0:
                    ax.set_title(name if j == 0 else '', fontsize=8,
                                 loc='left')
                c += 1
    fig.tight_layout(pad=0.2)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    fig.savefig(args.out, dpi=120)
    plt.close(fig)
    print(json.dumps(dict(out=args.out, indices=indices,
                          columns=[(n, len(rows[0])) for n, rows in columns
                                   ])))


if __name__ == '__main__':
    main()
