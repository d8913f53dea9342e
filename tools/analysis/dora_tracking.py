"""Figure of the objects a DoRA teacher discovers and tracks over a clip.

Usage::

    python tools/analysis/dora_tracking.py CONFIG [--checkpoint CKPT] \
        --out FIG.png [--video PATH] [--clips 0 200] [--seed 0]

Builds the config's DoRA model (with the checkpoint's weights, or at random
init), reads the given clips of the config's training video (the frames of
one start index each, centre-cropped to the square global view and resized
to the model's input size, no augmentation), runs the teacher on the
frames and draws, for every frame, the frame and the masks of the
``num_objects`` objects (the student's multi-object crops: each object in
its colour, over a dimmed frame). Objects are discovered in the first frame
of each clip and tracked through the others, as in training; the head
subset is drawn with ``--seed``. Prints, as the last line, a JSON object
with the per-object mask coverage and the centre of mass of every mask
(patches, row / column) per frame.
"""
import argparse
import json

import cv2
import numpy as np
import torch
from mmengine.config import Config, DictAction

from mmmix.engine import build_model_from_cfg
from mmmix.registry import DATASETS

COLOURS = np.array([[230, 25, 75], [60, 180, 75], [0, 130, 200],
                    [245, 130, 48], [145, 30, 180], [70, 240, 240]],
                   dtype=np.float32)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--checkpoint')
    parser.add_argument('--out', required=True)
    parser.add_argument('--video', help='read this video instead')
    parser.add_argument('--clips', type=int, nargs='+', default=[0],
                        help='dataset indices (start frames) of the clips')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args(argv)


def square_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Centre square crop of an ``H x W x 3`` frame, resized to ``size``."""
    h, w = frame.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    crop = frame[top:top + s, left:left + s]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def read_clip(dataset, index: int, size: int) -> np.ndarray:
    """``(T, size, size, 3)`` RGB uint8 frames of clip ``index``."""
    info = dataset.get_data_info(index)
    frames = dataset.read_frames(info['video_idx'], info['frame_inds'])
    return np.stack([square_resize(f, size) for f in frames])


@torch.no_grad()
def track_clip(model, frames: np.ndarray):
    """Masks ``(T, k, H, W)`` of the teacher on one clip."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)[None]  # 1, T, C, H, W
    data = model.data_preprocessor(dict(inputs=[x], data_samples=None),
                                   False)
    clip = data['inputs'][0]
    t, size = clip.shape[1], tuple(clip.shape[-2:])
    tokens, _ = model._teacher(clip.flatten(0, 1))
    masks, _ = model.object_masks(tokens, 1, 1, t, size)
    return masks[0, 0, :, :, 0].float().cpu().numpy()


def draw(frames: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """One row per frame: the frame, each object's crop, all objects."""
    t, k = masks.shape[:2]
    rows = []
    for i in range(t):
        f = frames[i].astype(np.float32)
        tiles = [f]
        overlay = f * 0.35
        for j in range(k):
            m = masks[i, j][..., None]
            tiles.append(f * m + 255 * 0.15 * (1 - m))
            overlay = overlay * (1 - 0.5 * m) + 0.5 * m * COLOURS[j % 6]
        tiles.append(overlay)
        rows.append(np.concatenate(
            [np.pad(tile, ((2, 2), (2, 2), (0, 0)), constant_values=255)
             for tile in tiles], axis=1))
    return np.clip(np.concatenate(rows, axis=0), 0, 255).astype(np.uint8)


def mask_summary(masks: np.ndarray, patch: int) -> dict:
    t, k = masks.shape[:2]
    coverage = masks.reshape(t, k, -1).mean(-1)
    ys, xs = np.mgrid[:masks.shape[2], :masks.shape[3]]
    mass = masks.reshape(t, k, -1).sum(-1).clip(min=1e-6)
    cy = (masks * ys).reshape(t, k, -1).sum(-1) / mass / patch
    cx = (masks * xs).reshape(t, k, -1).sum(-1) / mass / patch
    return dict(coverage=coverage.round(3).tolist(),
                centre_row=cy.round(2).tolist(),
                centre_col=cx.round(2).tolist())


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    model = build_model_from_cfg(cfg, args.checkpoint).cpu()
    if not hasattr(model, 'object_masks'):
        raise TypeError(f'{args.config} does not build a DoRA model '
                        f'({type(model).__name__})')
    if model.num_objects < 1:
        raise ValueError('the model tracks no objects (num_objects=0)')
    ds_cfg = dict(cfg.train_dataloader.dataset, pipeline=[])
    if args.video:
        ds_cfg['videos'] = [args.video]
        ds_cfg.pop('cuts', None)
    dataset = DATASETS.build(ds_cfg)
    size = model.backbone.patch_embed.init_input_size[0]
    patch = model.patch_size[0]
    images, summary = [], {}
    for index in args.clips:
        if not 0 <= index < len(dataset):
            raise IndexError(f'clip {index} outside the dataset\'s '
                             f'{len(dataset)} clips')
        frames = read_clip(dataset, index, size)
        torch.manual_seed(args.seed)
        masks = track_clip(model, frames)
        images.append(draw(frames, masks))
        summary[str(index)] = mask_summary(masks, patch)
    grid = np.concatenate(
        [np.pad(im, ((0, 8), (0, 0), (0, 0)), constant_values=255)
         for im in images], axis=0)
    scale = max(1, 480 // grid.shape[1])
    grid = cv2.resize(grid, (grid.shape[1] * scale, grid.shape[0] * scale),
                      interpolation=cv2.INTER_NEAREST)
    cv2.imwrite(args.out, cv2.cvtColor(grid, cv2.COLOR_RGB2BGR))
    print(f'saved {args.out}')
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
