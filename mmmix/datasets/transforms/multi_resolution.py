"""Multi-resolution views: one crop rendered at several resolutions (CLIM).

CLIM (spec 3.7, A12, A14) contrasts positives "with the same content but
different resolutions": the crop ratio is kept and only the training
resolution changes, unlike multi-crop, which changes both.
"""
import random
from numbers import Integral, Real
from typing import Dict, List, Optional, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmengine.registry import DefaultScope
from mmpretrain.datasets.transforms import RandomResizedCrop

from mmmix.registry import TRANSFORMS

INTERPOLATIONS = ('nearest', 'bilinear', 'bicubic', 'area', 'lanczos')
BACKENDS = ('cv2', 'pillow')


def _check_range(value, name: str, upper: Optional[float] = None) -> tuple:
    if (not isinstance(value, Sequence) or len(value) != 2
            or not all(isinstance(v, Real) and not isinstance(v, bool)
                       for v in value)):
        raise ValueError(f'{name} must be a (min, max) pair of numbers, '
                         f'got {value!r}')
    low, high = float(value[0]), float(value[1])
    if not 0 < low <= high:
        raise ValueError(
            f'{name} must satisfy 0 < min <= max, got {tuple(value)}')
    if upper is not None and high > upper:
        raise ValueError(f'{name} must have max <= {upper}, got '
                         f'{tuple(value)}')
    return low, high


def _get_rng_state() -> tuple:
    return random.getstate(), np.random.get_state(), torch.get_rng_state()


def _set_rng_state(state: tuple) -> None:
    random.setstate(state[0])
    np.random.set_state(state[1])
    torch.set_rng_state(state[2])


@TRANSFORMS.register_module()
class MultiResolutionViews(BaseTransform):
    """Random resized crops, each rendered at several resolutions.

    For each of ``num_views`` views, one RandomResizedCrop box (the sampling
    rule of mmpretrain's :class:`RandomResizedCrop`) and one horizontal flip
    are drawn, and the flipped crop is resized to ``(r, r)`` for every ``r``
    in ``scales``. Each copy is resized directly from the original crop (not
    from the largest copy). The photometric pipeline ``transforms`` is then
    applied to every copy, with independent randomness per copy unless
    ``share_photometric``.

    The output images are ordered view-major::

        [view0@scales[0], view0@scales[1], ..., view1@scales[0], ...]

    so image ``v * len(scales) + s`` is view ``v`` at ``scales[s]``. A 2-D
    (grey) input gives 2-D outputs and an ``(H, W, C)`` input ``(r, r, C)``
    outputs (also for ``C == 1``); :class:`PackInputs` turns the list into a
    list of ``(C, r, r)`` tensors.

    Randomness comes from numpy's and Python's global RNGs, as in mmcv
    transforms, so dataloader worker seeding applies.

    **Required Keys:**

    - img

    **Modified Keys:**

    - img (a list of ``num_views * len(scales)`` arrays)

    **Added Keys:**

    - crop_boxes (list of ``(y1, x1, h, w)`` in the input image, one per
      output image)
    - flips (list of bool, one per output image)

    Args:
        num_views (int): Number of independent crops, >= 1. Defaults to 2.
        scales (Sequence[int] | int): Output sizes (square). Repeating a size,
            e.g. ``(224, 224)``, gives copies of a view that differ only by
            their photometric augmentation. Defaults to (224, 160).
        crop_ratio_range (tuple): Range of the crop area as a fraction of the
            image area, ``0 < min <= max <= 1``. Defaults to (0.2, 1.0).
        aspect_ratio_range (tuple): Range of the crop aspect ratio (w / h),
            ``0 < min <= max``. Defaults to (3/4, 4/3).
        flip_prob (float): Probability of a horizontal flip, in [0, 1].
            Defaults to 0.5.
        share_crop (bool): Use one crop and one flip for all scales of a
            view. If False, each copy draws its own crop and flip.
            Defaults to True.
        share_photometric (bool): Replay the same random draws of
            ``transforms`` for all copies of a view: the ``random``,
            ``numpy`` and ``torch`` RNG states seen by the first copy are
            restored for the others (the global RNGs then continue from
            where they were, so crops drawn with ``share_crop=False`` still
            differ). Copies at different sizes get the same parameters only
            for ops whose draws do not depend on the image size.
            Defaults to False.
        max_attempts (int): Crop sampling attempts before the central crop
            fallback, as in :class:`RandomResizedCrop`. Defaults to 10.
        interpolation (str): Resize interpolation, one of 'nearest',
            'bilinear', 'bicubic', 'area', 'lanczos'. Defaults to 'bilinear'.
        backend (str): Resize backend, 'cv2' or 'pillow'. Defaults to 'cv2'.
        transforms (list, optional): Photometric pipeline applied to each
            copy (transform configs built from the TRANSFORMS registry, or
            callables). It must not change the image size. A list of
            ``num_views`` such lists gives each view its own pipeline (e.g.
            BYOL's two asymmetric ones), as mmpretrain's ``MultiView`` does.
            Defaults to None (no ops).

    Example:
        >>> train_pipeline = [
        ...     dict(type='LoadImageFromFile'),
        ...     dict(type='MultiResolutionViews', num_views=2,
        ...          scales=(224, 160),
        ...          transforms=[
        ...              dict(type='RandomApply', prob=0.8, transforms=[
        ...                  dict(type='ColorJitter', brightness=0.4,
        ...                       contrast=0.4, saturation=0.4, hue=0.1)]),
        ...              dict(type='RandomGrayscale', prob=0.2,
        ...                   keep_channels=True,
        ...                   channel_weights=(0.114, 0.587, 0.2989)),
        ...              dict(type='GaussianBlur', magnitude_range=(0.1, 2.0),
        ...                   magnitude_std='inf', prob=0.5),
        ...          ]),
        ...     dict(type='PackInputs'),
        ... ]
    """

    def __init__(self,
                 num_views: int = 2,
                 scales: Union[Sequence[int], int] = (224, 160),
                 crop_ratio_range: Tuple[float, float] = (0.2, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 flip_prob: float = 0.5,
                 share_crop: bool = True,
                 share_photometric: bool = False,
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2',
                 transforms: Optional[List[Union[dict, callable]]] = None):
        if (isinstance(num_views, bool) or not isinstance(num_views, Integral)
                or num_views < 1):
            raise ValueError(
                f'num_views must be an int >= 1, got {num_views!r}')
        if isinstance(scales, Integral) and not isinstance(scales, bool):
            scales = (scales, )
        if (not isinstance(scales, Sequence) or len(scales) == 0 or not all(
                isinstance(s, Integral) and not isinstance(s, bool) and s > 0
                for s in scales)):
            raise ValueError('scales must be a non-empty sequence of positive '
                             f'ints, got {scales!r}')
        if (not isinstance(flip_prob, Real) or isinstance(flip_prob, bool)
                or not 0.0 <= flip_prob <= 1.0):
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob!r}')
        if (isinstance(max_attempts, bool)
                or not isinstance(max_attempts, Integral) or max_attempts < 0):
            raise ValueError(
                f'max_attempts must be an int >= 0, got {max_attempts!r}')
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {INTERPOLATIONS}, '
                             f'got {interpolation!r}')
        if backend not in BACKENDS:
            raise ValueError(
                f'backend must be one of {BACKENDS}, got {backend!r}')
        if transforms is not None and not isinstance(transforms, Sequence):
            raise ValueError('transforms must be a list of transform configs '
                             f'or None, got {type(transforms).__name__}')

        self.num_views = int(num_views)
        self.scales = tuple(int(s) for s in scales)
        self.crop_ratio_range = _check_range(
            crop_ratio_range, 'crop_ratio_range', upper=1.0)
        self.aspect_ratio_range = _check_range(aspect_ratio_range,
                                               'aspect_ratio_range')
        self.flip_prob = float(flip_prob)
        self.share_crop = bool(share_crop)
        self.share_photometric = bool(share_photometric)
        self.max_attempts = int(max_attempts)
        self.interpolation = interpolation
        self.backend = backend

        # only its crop sampling rule is used (it draws from np.random)
        self._crop_sampler = RandomResizedCrop(
            scale=max(self.scales),
            crop_ratio_range=self.crop_ratio_range,
            aspect_ratio_range=self.aspect_ratio_range,
            max_attempts=self.max_attempts,
            interpolation=interpolation,
            backend=backend)
        per_view = bool(transforms) and all(
            isinstance(t, Sequence) and not isinstance(t, (str, dict))
            for t in transforms)
        if per_view and len(transforms) != self.num_views:
            raise ValueError(
                f'transforms has {len(transforms)} per-view pipelines but '
                f'num_views={self.num_views}')
        view_pipes = list(transforms) if per_view else [transforms] * \
            self.num_views
        # nested wrappers (RandomApply, ...) build their children with
        # mmcv's root registry, which finds mmpretrain/mmmix transforms only
        # under a default scope: use 'mmmix' when none is active
        scope = None
        if DefaultScope.get_current_instance() is None:
            scope = 'mmmix'
        self.pipelines = []
        with DefaultScope.overwrite_default_scope(scope):
            for pipe in view_pipes:
                self.pipelines.append(Compose([
                    TRANSFORMS.build(t) if isinstance(t, dict) else t
                    for t in pipe
                ]) if pipe else None)
    def _draw(self, img: np.ndarray) -> Tuple[Tuple[int, int, int, int],
                                               bool]:
        """Draw one crop box ``(y1, x1, h, w)`` and one flip."""
        box = tuple(int(v) for v in self._crop_sampler.rand_crop_params(img))
        flip = bool(np.random.rand() < self.flip_prob)
        return box, flip

    def _render(self, img: np.ndarray, box: Tuple[int, int, int, int],
                flip: bool, size: int) -> np.ndarray:
        """Crop, flip and resize ``img`` to ``(size, size)``."""
        y1, x1, h, w = box
        crop = img[y1:y1 + h, x1:x1 + w]
        if flip:
            crop = crop[:, ::-1]
        out = mmcv.imresize(
            np.ascontiguousarray(crop), (size, size),
            interpolation=self.interpolation,
            backend=self.backend)
        if img.ndim == 3 and out.ndim == 2:  # cv2 drops a single channel
            out = out[..., None]
        return out

    def _photometric(self, results: dict, img: np.ndarray,
                     view: int = 0) -> np.ndarray:
        pipeline = self.pipelines[view]
        if pipeline is None:
            return img
        inputs = dict(results)
        inputs['img'] = img
        inputs['img_shape'] = img.shape[:2]
        outputs = pipeline(inputs)
        if outputs is None:
            raise RuntimeError(
                'the photometric pipeline of MultiResolutionViews returned '
                'None')
        out = outputs['img']
        if img.ndim == 3 and out.ndim == 2:  # cv2-based ops drop it too
            out = out[..., None]
        return out

    def transform(self, results: Dict) -> Dict:
        """Render the views.

        Args:
            results (dict): Result dict with an ``img`` array of shape
                ``(H, W)`` or ``(H, W, C)``.

        Returns:
            dict: ``results`` with ``img`` replaced by the list of views and
            ``crop_boxes`` and ``flips`` added.
        """
        img = results['img']
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise TypeError('MultiResolutionViews expects an (H, W) or '
                            '(H, W, C) array in results["img"]')
        imgs, boxes, flips = [], [], []
        for v in range(self.num_views):
            box, flip = self._draw(img)
            rng_state = None
            for i, size in enumerate(self.scales):
                if i > 0 and not self.share_crop:
                    box, flip = self._draw(img)
                view = self._render(img, box, flip, size)
                if not self.share_photometric:
                    view = self._photometric(results, view, v)
                elif rng_state is None:  # first copy: remember its draws
                    rng_state = _get_rng_state()
                    view = self._photometric(results, view, v)
                else:  # replay the first copy's draws, then move on
                    current = _get_rng_state()
                    _set_rng_state(rng_state)
                    view = self._photometric(results, view, v)
                    _set_rng_state(current)
                imgs.append(view)
                boxes.append(box)
                flips.append(flip)
        results['img'] = imgs
        results['crop_boxes'] = boxes
        results['flips'] = flips
        return results

    def __repr__(self) -> str:
        """Print the basic information of the transform.

        Returns:
            str: Formatted string.
        """
        repr_str = self.__class__.__name__
        repr_str += f'(num_views={self.num_views}, scales={self.scales}, '
        repr_str += f'crop_ratio_range={self.crop_ratio_range}, '
        repr_str += f'aspect_ratio_range={self.aspect_ratio_range}, '
        repr_str += f'flip_prob={self.flip_prob}, '
        repr_str += f'share_crop={self.share_crop}, '
        repr_str += f'share_photometric={self.share_photometric}, '
        repr_str += f'max_attempts={self.max_attempts}, '
        repr_str += f'interpolation={self.interpolation}, '
        repr_str += f'backend={self.backend}, transforms={self.pipelines})'
        return repr_str
