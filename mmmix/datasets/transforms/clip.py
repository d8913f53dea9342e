"""Transforms on clips: ``results['imgs']`` is a list of T frames (DoRA).

The clip-level ops (:class:`ClipRandomResizedCrop`, :class:`ClipRandomFlip`)
draw one set of random parameters for the whole clip; :class:`FrameWise`
runs an mmpretrain image pipeline on each frame, with fresh or shared
randomness; :class:`ClipMultiView` makes several views of a clip and
:class:`PackClipInputs` turns them into ``(T, C, h, w)`` uint8 tensors
(spec 3.6, U10). Randomness comes from numpy's global RNG as in mmcv and
mmpretrain transforms, so dataloader worker seeding applies.
"""
import copy
from numbers import Integral, Real
from typing import Callable, Dict, Iterable, List, Sequence, Tuple, Union

import mmcv
import numpy as np
import torch
from mmcv.transforms import BaseTransform, Compose
from mmcv.transforms.utils import cache_random_params
from mmengine.registry import DefaultScope
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.structures import DataSample

from mmmix.registry import TRANSFORMS

from .multi_resolution import BACKENDS, INTERPOLATIONS, _check_range


def _build(transforms: Sequence[Union[dict, Callable]]) -> Compose:
    # nested wrappers (RandomApply, ...) build their children with mmcv's
    # root registry, which finds mmpretrain/mmmix transforms only under a
    # default scope: use 'mmmix' when none is active
    if transforms is None:
        transforms = []
    if isinstance(transforms, dict) or not isinstance(transforms, Sequence):
        raise TypeError('transforms must be a list of transform configs or '
                        f'callables, got {type(transforms).__name__}')
    scope = None
    if DefaultScope.get_current_instance() is None:
        scope = 'mmmix'
    with DefaultScope.overwrite_default_scope(scope):
        return Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in transforms
        ])


def _dedupe_random_methods(transforms) -> None:
    """Work around duplicated ``_methods_with_randomness`` names.

    mmcv's ``cache_randomness`` appends each decorated name to a list that a
    subclass shares with its parent, so mmpretrain's ``RandomResizedCrop``
    lists ``rand_crop_params`` twice (once more for its subclass
    ``EfficientNetRandomCrop``). ``cache_random_params`` then wraps the
    method twice, counts two calls per image and raises. An instance-level
    copy without duplicates fixes it (recursively through wrappers).
    """
    if isinstance(transforms, BaseTransform):
        names = getattr(transforms, '_methods_with_randomness', None)
        if names is not None and len(set(names)) != len(names):
            transforms._methods_with_randomness = list(dict.fromkeys(names))
    if isinstance(transforms, Iterable) and not isinstance(
            transforms, (str, bytes, dict)):
        for t in transforms:
            _dedupe_random_methods(t)


def _get_clip(results: dict, name: str) -> List[np.ndarray]:
    imgs = results.get('imgs')
    if (not isinstance(imgs, (list, tuple)) or len(imgs) == 0
            or not all(isinstance(f, np.ndarray) for f in imgs)):
        raise TypeError(f'{name} expects results["imgs"] to be a non-empty '
                        'list of frames (numpy arrays)')
    shapes = {f.shape[:2] for f in imgs}
    if len(shapes) > 1:
        raise ValueError(f'{name} needs frames of one size, got {shapes}')
    return list(imgs)


@TRANSFORMS.register_module()
class ClipRandomResizedCrop(BaseTransform):
    """Random resized crop with ONE box for all the frames of a clip.

    The box follows mmpretrain's :class:`RandomResizedCrop` sampling rule
    (area fraction in ``crop_ratio_range``, aspect ratio in
    ``aspect_ratio_range``, central-crop fallback), is drawn once per clip
    from the first frame's size and applied to every frame, which is then
    resized to ``scale``. This is DoRA's 300 px region and its 224 px global
    crop (``RandomResizedCropVideo`` of the official code).

    **Required Keys:**

    - imgs (list of T frames of one size)

    **Modified Keys:**

    - imgs
    - img_shape

    **Added Keys:**

    - crop_box (``(y1, x1, h, w)`` in the input frames)

    Args:
        scale (int | tuple): Output size; an int gives a square, a tuple is
            ``(w, h)`` as in mmpretrain.
        crop_ratio_range (tuple): Range of the crop area as a fraction of the
            frame area. Defaults to (0.08, 1.0).
        aspect_ratio_range (tuple): Range of the crop aspect ratio (w / h).
            Defaults to (3/4, 4/3).
        max_attempts (int): Sampling attempts before the central crop
            fallback. Defaults to 10.
        interpolation (str): 'nearest', 'bilinear', 'bicubic', 'area' or
            'lanczos'. Defaults to 'bilinear'.
        backend (str): 'cv2' or 'pillow'. Defaults to 'cv2'.
    """

    def __init__(self,
                 scale: Union[int, Sequence[int]],
                 crop_ratio_range: Tuple[float, float] = (0.08, 1.0),
                 aspect_ratio_range: Tuple[float, float] = (3. / 4., 4. / 3.),
                 max_attempts: int = 10,
                 interpolation: str = 'bilinear',
                 backend: str = 'cv2'):
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f'interpolation must be one of {INTERPOLATIONS}, '
                             f'got {interpolation!r}')
        if backend not in BACKENDS:
            raise ValueError(
                f'backend must be one of {BACKENDS}, got {backend!r}')
        self.crop_ratio_range = _check_range(
            crop_ratio_range, 'crop_ratio_range', upper=1.0)
        self.aspect_ratio_range = _check_range(aspect_ratio_range,
                                               'aspect_ratio_range')
        self.interpolation = interpolation
        self.backend = backend
        # only its box sampling rule is used (it draws from np.random)
        self._sampler = RandomResizedCrop(
            scale=scale,
            crop_ratio_range=self.crop_ratio_range,
            aspect_ratio_range=self.aspect_ratio_range,
            max_attempts=max_attempts,
            interpolation=interpolation,
            backend=backend)
        self.scale = self._sampler.scale  # (w, h)

    def transform(self, results: Dict) -> Dict:
        """Crop every frame with one random box and resize it.

        Args:
            results (dict): Result dict with a list of frames in ``imgs``.

        Returns:
            dict: The same dict, frames cropped and resized.
        """
        imgs = _get_clip(results, self.__class__.__name__)
        y1, x1, h, w = (int(v) for v in self._sampler.rand_crop_params(
            imgs[0]))
        out = []
        for img in imgs:
            crop = np.ascontiguousarray(img[y1:y1 + h, x1:x1 + w])
            res = mmcv.imresize(
                crop,
                tuple(self.scale),
                interpolation=self.interpolation,
                backend=self.backend)
            if img.ndim == 3 and res.ndim == 2:  # cv2 drops one channel
                res = res[..., None]
            out.append(res)
        results['imgs'] = out
        results['img_shape'] = out[0].shape[:2]
        results['crop_box'] = (y1, x1, h, w)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(scale={tuple(self.scale)}, '
                f'crop_ratio_range={self.crop_ratio_range}, '
                f'aspect_ratio_range={self.aspect_ratio_range}, '
                f'interpolation={self.interpolation}, '
                f'backend={self.backend})')


@TRANSFORMS.register_module()
class ClipRandomFlip(BaseTransform):
    """Flip all the frames of a clip, or none, with probability ``prob``.

    **Required Keys:**

    - imgs

    **Modified Keys:**

    - imgs

    **Added Keys:**

    - flip
    - flip_direction

    Args:
        prob (float): Probability of flipping the clip. Defaults to 0.5.
        direction (str): 'horizontal', 'vertical' or 'diagonal'. Defaults
            to 'horizontal'.
    """

    def __init__(self, prob: float = 0.5, direction: str = 'horizontal'):
        if (not isinstance(prob, Real) or isinstance(prob, bool)
                or not 0.0 <= prob <= 1.0):
            raise ValueError(f'prob must be in [0, 1], got {prob!r}')
        if direction not in ('horizontal', 'vertical', 'diagonal'):
            raise ValueError(f'direction must be horizontal, vertical or '
                             f'diagonal, got {direction!r}')
        self.prob = float(prob)
        self.direction = direction

    def transform(self, results: Dict) -> Dict:
        """Flip the clip (one random decision).

        Args:
            results (dict): Result dict with a list of frames in ``imgs``.

        Returns:
            dict: The same dict, frames flipped or not.
        """
        imgs = _get_clip(results, self.__class__.__name__)
        flip = bool(np.random.rand() < self.prob)
        if flip:
            imgs = [mmcv.imflip(img, direction=self.direction) for img in imgs]
        results['imgs'] = imgs
        results['flip'] = flip
        results['flip_direction'] = self.direction if flip else None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(prob={self.prob}, '
                f'direction={self.direction})')


@TRANSFORMS.register_module()
class FrameWise(BaseTransform):
    """Apply an image pipeline to every frame of a clip.

    Each frame is put in ``results['img']`` (with ``img_shape``) of a
    shallow copy of ``results`` and run through ``transforms``, an
    mmpretrain image pipeline that must return an image in ``img``.

    - ``consistent=False`` (default): fresh randomness per frame. This is
      the official DoRA behaviour for colour jitter, grayscale and blur
      (spec 10 A19), and gives DoRA's local crops, whose boxes are drawn
      independently per frame:
      ``FrameWise([dict(type='RandomResizedCrop', scale=112,
      crop_ratio_range=(0.05, 0.4), interpolation='bicubic'), ...])``.
    - ``consistent=True``: the same random parameters for every frame, via
      mmcv's ``cache_random_params`` over the built transforms (every random
      method of mmcv/mmpretrain transforms is ``@cache_randomness``).

    **Required Keys:**

    - imgs

    **Modified Keys:**

    - imgs
    - img_shape

    Args:
        transforms (list[dict | callable]): The image pipeline.
        consistent (bool): Share the random parameters over the frames.
            Defaults to False.
    """

    def __init__(self,
                 transforms: Sequence[Union[dict, Callable]],
                 consistent: bool = False):
        self.pipeline = _build(transforms)
        self.consistent = bool(consistent)
        _dedupe_random_methods(self.pipeline)

    def _run(self, results: dict, imgs: List[np.ndarray]) -> List[np.ndarray]:
        out = []
        for img in imgs:
            inputs = dict(results)
            inputs.pop('imgs', None)
            inputs['img'] = img
            inputs['img_shape'] = img.shape[:2]
            outputs = self.pipeline(inputs)
            if outputs is None:
                raise RuntimeError(
                    'the pipeline of FrameWise returned None for a frame')
            frame = outputs['img']
            if not isinstance(frame, np.ndarray):
                raise TypeError('the pipeline of FrameWise must give a numpy '
                                f'image, got {type(frame).__name__}')
            if img.ndim == 3 and frame.ndim == 2:  # cv2-based ops drop it
                frame = frame[..., None]
            out.append(frame)
        return out

    def transform(self, results: Dict) -> Dict:
        """Run the pipeline on each frame.

        Args:
            results (dict): Result dict with a list of frames in ``imgs``.

        Returns:
            dict: The same dict with the transformed frames.
        """
        imgs = results.get('imgs')
        if not isinstance(imgs, (list, tuple)) or len(imgs) == 0:
            raise TypeError('FrameWise expects results["imgs"] to be a '
                            'non-empty list of frames')
        if self.consistent:
            with cache_random_params(self.pipeline.transforms):
                out = self._run(results, imgs)
        else:
            out = self._run(results, imgs)
        results['imgs'] = out
        results['img_shape'] = out[0].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(consistent={self.consistent}, '
                f'transforms={self.pipeline})')


@TRANSFORMS.register_module()
class ClipMultiView(BaseTransform):
    """Several views of a clip, like mmpretrain's ``MultiView`` for images.

    ``num_views[g]`` views are made with the pipeline ``transforms[g]``,
    each on a deep copy of the results, and ``results['imgs']`` becomes the
    list of all views in group order (each view a list of T frames). DoRA's
    code-faithful setting is ``num_views=[1, m]``: one global view and
    ``m`` local views (spec 3.6).

    **Required Keys:**

    - imgs

    **Modified Keys:**

    - imgs (list of views, each a list of T frames)
    - img_shape (list of ``(h, w)``, one per view)

    **Added Keys:**

    - num_views (the list of views per group)

    Args:
        num_views (int | list[int]): Views per pipeline group.
        transforms (list): One list of transform configs per group (a flat
            list of configs is one group).
    """

    def __init__(self, num_views: Union[int, Sequence[int]],
                 transforms: Sequence):
        if isinstance(num_views, Integral) and not isinstance(
                num_views, bool):
            num_views = [num_views]
        if (not isinstance(num_views, Sequence) or len(num_views) == 0
                or not all(
                    isinstance(n, Integral) and not isinstance(n, bool)
                    and n >= 0 for n in num_views)):
            raise ValueError('num_views must be an int or a list of ints '
                             f'>= 0, got {num_views!r}')
        if not isinstance(transforms, Sequence):
            raise TypeError('transforms must be a list of pipelines')
        grouped = len(transforms) > 0 and all(
            isinstance(t, Sequence) and not isinstance(t, (str, dict))
            for t in transforms)
        groups = list(transforms) if grouped else [transforms]
        if len(groups) != len(num_views):
            raise ValueError(f'{len(num_views)} view groups (num_views='
                             f'{list(num_views)}) but {len(groups)} '
                             'pipelines')
        self.num_views = [int(n) for n in num_views]
        self.pipelines = [_build(g) for g in groups]

    def transform(self, results: Dict) -> Dict:
        """Make the views.

        Args:
            results (dict): Result dict with a list of frames in ``imgs``.

        Returns:
            dict: The same dict with ``imgs`` the list of views.
        """
        _get_clip(results, self.__class__.__name__)
        views = []
        for n, pipeline in zip(self.num_views, self.pipelines):
            for _ in range(n):
                outputs = pipeline(copy.deepcopy(results))
                if outputs is None:
                    raise RuntimeError(
                        'a pipeline of ClipMultiView returned None')
                views.append(list(outputs['imgs']))
        results['imgs'] = views
        results['img_shape'] = [tuple(v[0].shape[:2]) for v in views]
        results['num_views'] = list(self.num_views)
        return results

    def __repr__(self) -> str:
        repr_str = self.__class__.__name__ + '('
        for i, p in enumerate(self.pipelines):
            repr_str += (f'\nPipeline {i + 1} with {self.num_views[i]} '
                         f'views:\n{p}')
        return repr_str + ')'


@TRANSFORMS.register_module()
class PackClipInputs(BaseTransform):
    """Pack a clip (or its views) into uint8 tensors and a data sample.

    ``inputs`` is one ``(T, C, h, w)`` tensor per view (a list, in view
    order) or a single tensor when ``imgs`` is one clip; mmengine's
    ``default_collate`` then stacks each view into ``(B, T, C, h, w)``.
    The dtype is kept (``uint8`` from the dataset): normalisation happens in
    :class:`~mmmix.models.utils.VideoSelfSupDataPreprocessor`. Grayscale
    ``(h, w)`` frames get ``C = 1``.

    **Required Keys:**

    - imgs (list of T frames, or list of views of T frames)
    - ``*algorithm_keys``, ``*meta_keys`` when present

    **Added Keys:**

    - inputs
    - data_samples (:obj:`~mmpretrain.structures.DataSample`)

    Args:
        input_key (str): Key of the clip. Defaults to 'imgs'.
        algorithm_keys (Sequence[str]): Keys set as data fields of the data
            sample. Defaults to ().
        meta_keys (Sequence[str]): Keys set as metainfo of the data sample.
            Defaults to ``('sample_idx', 'frame_inds', 'video_idx', 'video',
            'fps', 'ori_shape', 'img_shape', 'crop_box', 'flip')``.
    """

    DEFAULT_META_KEYS = ('sample_idx', 'frame_inds', 'video_idx', 'video',
                         'fps', 'ori_shape', 'img_shape', 'crop_box', 'flip')

    def __init__(self,
                 input_key: str = 'imgs',
                 algorithm_keys: Sequence[str] = (),
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS):
        self.input_key = input_key
        self.algorithm_keys = tuple(algorithm_keys)
        self.meta_keys = tuple(meta_keys)

    @staticmethod
    def pack_clip(frames: Sequence[np.ndarray]) -> torch.Tensor:
        """Stack T ``(h, w[, c])`` frames into a ``(T, C, h, w)`` tensor."""
        if len(frames) == 0:
            raise ValueError('cannot pack an empty clip')
        arrs = [f[..., None] if f.ndim == 2 else f for f in frames]
        shapes = {a.shape for a in arrs}
        if len(shapes) > 1:
            raise ValueError(f'frames of a clip differ in shape: {shapes}')
        clip = np.ascontiguousarray(np.stack(arrs).transpose(0, 3, 1, 2))
        return torch.from_numpy(clip)

    def transform(self, results: Dict) -> Dict:
        """Pack the inputs and the data sample.

        Args:
            results (dict): Result dict from the clip pipeline.

        Returns:
            dict: ``inputs`` and ``data_samples``.
        """
        packed = dict()
        if self.input_key in results:
            imgs = results[self.input_key]
            if not isinstance(imgs, (list, tuple)) or len(imgs) == 0:
                raise TypeError(f'results[{self.input_key!r}] must be a '
                                'non-empty list of frames or views')
            if isinstance(imgs[0], np.ndarray):
                packed['inputs'] = self.pack_clip(imgs)
            else:
                packed['inputs'] = [self.pack_clip(v) for v in imgs]
        data_sample = DataSample()
        for key in self.algorithm_keys:
            if key in results:
                data_sample.set_field(results[key], key)
        for key in self.meta_keys:
            if key in results:
                data_sample.set_field(results[key], key, field_type='metainfo')
        packed['data_samples'] = data_sample
        return packed

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}(input_key='{self.input_key}', "
                f'algorithm_keys={self.algorithm_keys}, '
                f'meta_keys={self.meta_keys})')


__all__ = [
    'ClipRandomResizedCrop', 'ClipRandomFlip', 'FrameWise', 'ClipMultiView',
    'PackClipInputs'
]
