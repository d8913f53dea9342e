"""Plumbing shared by the learned-view tools (``tools/learned_views``):
clean datasets, frozen generators and embedding networks from configs and
checkpoints, image conversions and the batch plan of resumable, sharded
builds.

Conventions (those of :class:`~mmmix.models.GANDataPreprocessor`): dataset
images are uint8; the generator works on ``x / 127.5 - 1`` centre-padded
(or cropped) to its resolution; generated images go back to the dataset's
size by a centre crop (:func:`crop_to`) and, for an embedding network, to
its input normalisation through :func:`pixel_normalizer` of ``(x + 1) *
127.5``.
"""
import copy
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
from mmengine.registry import init_default_scope
from torch.utils.data import DataLoader

from mmmix.engine.feature_extraction import pool_features
from mmmix.engine.runner import build_model_from_cfg
from mmmix.models.utils.lma_sampler import load_prefixed_state_dict
from mmmix.registry import DATASETS

EMBEDS = ('proj', 'backbone')


def _type_name(transform) -> str:
    t = transform.get('type', '') if isinstance(transform, dict) else ''
    return t.split('.')[-1] if isinstance(t, str) else getattr(
        t, '__name__', '')


def innermost_dataset_cfg(cfg, loader_key: str = 'train_dataloader'
                          ) -> dict:
    """A copy of the innermost dataset config with a ``pipeline`` under
    ``cfg[loader_key]`` (dataset wrappers such as ``RepeatDataset`` or
    ``KNNInstanceDataset`` are unwrapped: artefacts are indexed by that
    dataset's ``sample_idx``).

    Raises:
        KeyError: the config has no ``loader_key``.
        ValueError: no dataset config with a pipeline.
    """
    if loader_key not in cfg:
        raise KeyError(f'the config has no {loader_key!r}')
    dataset = copy.deepcopy(cfg[loader_key]['dataset'])
    while 'pipeline' not in dataset and isinstance(dataset.get('dataset'),
                                                   dict):
        dataset = dataset['dataset']
    if 'pipeline' not in dataset:
        raise ValueError(f'no dataset config with a pipeline in '
                         f'{loader_key}.dataset')
    return dataset


def clean_dataset_cfg(cfg, loader_key: str = 'train_dataloader',
                      pipeline: Optional[Sequence[dict]] = None) -> dict:
    """:func:`innermost_dataset_cfg` with its pipeline replaced by
    ``pipeline``.

    By default the pipeline keeps the original's leading loading
    transforms (``Load*``, e.g. ``LoadImageFromFile``) and ends with
    ``PackInputs``: no augmentation.
    """
    dataset = innermost_dataset_cfg(cfg, loader_key)
    if pipeline is None:
        pipeline = []
        for t in dataset['pipeline']:
            if not _type_name(t).startswith('Load'):
                break
            pipeline.append(t)
        pipeline.append(dict(type='PackInputs'))
    dataset['pipeline'] = list(pipeline)
    return dataset


def build_clean_dataset(cfg, loader_key: str = 'train_dataloader',
                        pipeline: Optional[Sequence[dict]] = None):
    """Build :func:`clean_dataset_cfg` (fully initialised; without
    mmengine's serialisation of the data list, whose ``gc.collect()`` is
    the slowest part of building a small dataset, unless the config sets
    ``serialize_data``)."""
    init_default_scope(cfg.get('default_scope', 'mmmix'))
    dataset_cfg = clean_dataset_cfg(cfg, loader_key, pipeline)
    if 'serialize_data' in dataset_cfg:
        dataset = DATASETS.build(dataset_cfg)
    else:
        try:
            dataset = DATASETS.build(dict(dataset_cfg, serialize_data=False))
        except TypeError as err:  # a dataset class without the argument
            if 'serialize_data' not in str(err):
                raise
            dataset = DATASETS.build(dataset_cfg)
    if hasattr(dataset, 'full_init'):
        dataset.full_init()
    return dataset


def dataset_channel_order(dataset) -> str:
    """``'rgb'`` when the data info holds an ``img`` array (mmmix
    Fashion-MNIST, mmpretrain CIFAR), ``'bgr'`` for images decoded from
    files (mmcv's default)."""
    info = dataset.get_data_info(0)
    return 'rgb' if info.get('img') is not None else 'bgr'


def _stack_inputs(items: List[dict]) -> torch.Tensor:
    shapes = {tuple(it['inputs'].shape) for it in items}
    if len(shapes) != 1:
        raise ValueError(f'images of one batch differ in shape: {shapes}; '
                         'the tools need a dataset of equal-size images')
    return torch.stack([it['inputs'] for it in items])


def batch_plan(num_samples: int, batch_size: int, part: int = 0,
               num_parts: int = 1) -> List[Tuple[int, np.ndarray]]:
    """``[(batch_index, rows)]`` of part ``part`` of ``num_parts``.

    The batches are global (batch ``k`` holds rows ``[k B, (k + 1) B)``,
    the last one shorter), and each part takes a contiguous run of them:
    the same rows are batched together whatever the number of parts, so a
    build split into parts equals a single run (for batch-dependent
    algorithms too).

    Raises:
        ValueError: bad sizes, or ``part`` outside ``[0, num_parts)``.
    """
    for name, value, low in (('num_samples', num_samples, 0),
                             ('batch_size', batch_size, 1),
                             ('num_parts', num_parts, 1)):
        if not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f'{name} must be an int >= {low}, got '
                             f'{value!r}')
    if not 0 <= part < num_parts:
        raise ValueError(f'part must be in [0, num_parts={num_parts}), got '
                         f'{part!r}')
    num_batches = -(-num_samples // batch_size)
    picked = np.array_split(np.arange(num_batches), num_parts)[part]
    return [(int(k), np.arange(k * batch_size,
                               min((k + 1) * batch_size, num_samples)))
            for k in picked]


def iter_dataset_batches(dataset, batches: Sequence[np.ndarray],
                         num_workers: int = 0):
    """Yield the ``inputs`` of ``dataset[i]`` stacked per batch of row
    indices ``batches`` (a uint8 ``(B, C, H, W)`` tensor each), in order.

    The batches are given explicitly (a ``batch_sampler``): no sampler,
    ``batch_size`` or ``drop_last`` of a config decides which rows are
    read, so every requested row comes back exactly once.
    """
    batches = [list(map(int, b)) for b in batches]
    if not batches:
        return
    loader = DataLoader(dataset, batch_sampler=batches,
                        collate_fn=_stack_inputs, num_workers=num_workers)
    for rows, inputs in zip(batches, loader):
        if inputs.shape[0] != len(rows):
            raise RuntimeError(f'{inputs.shape[0]} images for a batch of '
                               f'{len(rows)} rows')
        yield inputs


def load_into(model: nn.Module, checkpoint: str, prefix: str = '') -> None:
    """Load ``checkpoint`` strictly: the whole model's state dict when
    ``prefix`` is ``''``; else the entries under ``prefix`` into the
    submodule of that name (``'backbone.'`` -> ``model.backbone``) or, if
    the model has none (``'module.'``), into the whole model."""
    target = model
    if prefix:
        sub = model
        for name in prefix.rstrip('.').split('.'):
            sub = getattr(sub, name, None)
            if not isinstance(sub, nn.Module):
                sub = None
                break
        if sub is not None:
            target = sub
    device = next(model.parameters()).device
    load_prefixed_state_dict(target, checkpoint, prefix)
    model.to(device)


def load_gan_generator(gan_cfg, checkpoint: str,
                       prefix: str = 'generator_ema.'
                       ) -> Tuple[nn.Module, nn.Module]:
    """The frozen (EMA) generator of a GAN checkpoint and the GAN's data
    preprocessor.

    Returns:
        tuple: ``(generator, data_preprocessor)``, eval mode, on the
        current device, ``requires_grad=False``.
    """
    model = build_model_from_cfg(gan_cfg)
    if not hasattr(model, 'generator_ema'):
        raise AttributeError(f'{type(model).__name__} has no generator_ema:'
                             ' GAN_CONFIG must be a mmmix.GAN config')
    device = next(model.parameters()).device
    load_prefixed_state_dict(model.generator_ema, checkpoint, prefix)
    gen = model.generator_ema.to(device).eval().requires_grad_(False)
    return gen, model.data_preprocessor


def to_generator_input(inputs: torch.Tensor, preprocessor: nn.Module
                       ) -> torch.Tensor:
    """uint8 ``(B, C, H, W)`` -> the GAN data preprocessor's ``[-1, 1]``
    images at the generator's resolution (float, its device)."""
    return preprocessor(dict(inputs=inputs, data_samples=None))['inputs']


def crop_to(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Centre crop (or pad with -1) the last two dims to ``height`` x
    ``width``, the inverse of the GAN's centre padding."""
    from mmmix.models.generators.gan import center_pad_or_crop
    h, w = x.shape[-2:]
    if h < height or w < width:
        raise ValueError(f'cannot crop {h}x{w} images to {height}x{width}')
    return center_pad_or_crop(x, (height, width))


def pixel_normalizer(data_preprocessor: nn.Module
                     ) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x255 (B, C, H, W)`` float pixels -> the model's input: the
    preprocessor's channel flip (``to_rgb``) and ``(x - mean) / std``."""
    flip = bool(getattr(data_preprocessor, '_channel_conversion', False)
                or getattr(data_preprocessor, 'to_rgb', False))
    normalize = getattr(data_preprocessor, '_enable_normalize', True)
    mean = getattr(data_preprocessor, 'mean', None)
    std = getattr(data_preprocessor, 'std', None)
    if mean is None or std is None:
        normalize = False

    def prep(x: torch.Tensor) -> torch.Tensor:
        if flip and x.shape[1] == 3:
            x = x.flip(1)
        if normalize:
            x = (x - mean.to(x).view(1, -1, 1, 1)) / std.to(x).view(
                1, -1, 1, 1)
        return x

    return prep


def build_embedding(cfg, checkpoint: Optional[str], prefix: str = '',
                    embed: str = 'proj'
                    ) -> Tuple[nn.Module, Callable[[torch.Tensor],
                                                   torch.Tensor]]:
    """A pretraining model as a frozen embedding of pixel images.

    Args:
        cfg: the pretraining config (its model and data preprocessor).
        checkpoint (str, optional): loaded with :func:`load_into`.
        prefix (str): key prefix (``''``: a runner checkpoint of the whole
            model).
        embed (str): ``'proj'`` (backbone + neck, the spec's default) or
            ``'backbone'`` (last stage, average-pooled).

    Returns:
        tuple: ``(model, fn)`` with ``fn(x255)`` -> ``(B, d)`` (not
        normalised) for float ``(B, C, H, W)`` pixels in ``[0, 255]``; the
        model is in eval mode with ``requires_grad=False``.
    """
    if embed not in EMBEDS:
        raise ValueError(f'embed must be one of {EMBEDS}, got {embed!r}')
    model = build_model_from_cfg(cfg)
    for name in ('backbone', ) + (('neck', ) if embed == 'proj' else ()):
        if getattr(model, name, None) is None:
            raise AttributeError(f'{type(model).__name__} has no {name} '
                                 f"(embed={embed!r})")
    if checkpoint is not None:
        load_into(model, checkpoint, prefix)
    model.eval().requires_grad_(False)
    prep = pixel_normalizer(model.data_preprocessor)

    def fn(x255: torch.Tensor) -> torch.Tensor:
        feats = model.backbone(prep(x255))
        if embed == 'proj':
            feats = model.neck(feats)
        return pool_features(feats)

    return model, fn


def generated_to_pixels(x: torch.Tensor, height: int,
                        width: int) -> torch.Tensor:
    """Generator images in ``[-1, 1]`` -> float pixels ``[0, 255]`` at the
    dataset's size (clamped, centre-cropped)."""
    return (crop_to(x, height, width).clamp(-1, 1) + 1) * 127.5


__all__ = [
    'innermost_dataset_cfg', 'clean_dataset_cfg', 'build_clean_dataset',
    'dataset_channel_order', 'batch_plan', 'iter_dataset_batches',
    'load_into', 'load_gan_generator', 'to_generator_input', 'crop_to',
    'pixel_normalizer', 'build_embedding', 'generated_to_pixels', 'EMBEDS'
]
