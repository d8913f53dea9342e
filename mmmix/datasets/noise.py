"""Synthetic noise images: out-of-distribution sets for OOD detection."""
import numbers
from typing import List, Sequence

import numpy as np
from mmpretrain.datasets import BaseDataset

from mmmix.registry import DATASETS

NOISE_KINDS = ('uniform', 'gaussian')


def _check_shape(shape) -> tuple:
    if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence):
        raise ValueError(f'shape must be (H, W, C) or (H, W), got {shape!r}')
    shape = tuple(shape)
    if len(shape) not in (2, 3) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool)
            and s >= 1 for s in shape):
        raise ValueError('shape must be (H, W, C) or (H, W) of positive '
                         f'integers, got {shape!r}')
    return tuple(int(s) for s in shape)


@DATASETS.register_module()
class NoiseDataset(BaseDataset):
    """Uniform or Gaussian noise images, an OOD set (AlignMixup, thesis ch. 3).

    Each image is drawn in [0, 1] and quantised to ``uint8`` as
    ``round(255 * x)``, so it goes through the same pipeline and data
    preprocessor (normalisation) as the in-distribution images:

    - ``'uniform'``: ``x ~ U(0, 1)``;
    - ``'gaussian'``: ``x ~ N(mean, std)`` clipped to [0, 1] (the thesis
      uses ``mean = std = 0.5``).

    Image ``i`` is drawn from its own generator seeded with ``(seed, i)``, on
    demand in :meth:`get_data_info`: nothing is stored but ``num_samples``
    tiny records, the result does not depend on the order of access or on
    the data loader's workers, and the same ``seed`` gives the same images.

    Every sample has ``gt_label`` (``-1`` by default) and ``is_ood=True``;
    :class:`mmmix.evaluation.OODDetection` treats a sample as OOD when its
    label is negative or its ``is_ood`` is true. mmpretrain's
    ``ClsDataPreprocessor`` passes ``-1`` through unless it makes one-hot
    labels (``to_onehot=True``, or batch augments as in mixup configs), where
    ``F.one_hot`` raises "Class values must be non-negative". Either disable
    that in the test config (``model.train_cfg=None``,
    ``model.data_preprocessor.batch_augments=None`` and ``to_onehot=False``;
    test-time predictions do not use them) or give a valid dummy
    ``gt_label`` (e.g. 0) and keep the flag with
    ``dict(type='PackInputs', meta_keys=(..., 'is_ood'))``.

    Args:
        num_samples (int): number of images, >= 1. Defaults to 10000.
        shape (Sequence[int]): ``(H, W, C)``, e.g. ``(32, 32, 3)`` or
            ``(28, 28, 1)``; ``(H, W)`` gives 2-D grayscale images like
            :class:`~mmmix.datasets.FashionMNIST`'s. Defaults to
            ``(32, 32, 3)``.
        kind (str): ``'uniform'`` or ``'gaussian'``. Defaults to
            ``'uniform'``.
        seed (int): seed of the images, >= 0. Defaults to 0.
        mean (float): mean of the Gaussian. Defaults to 0.5.
        std (float): standard deviation of the Gaussian, > 0. Defaults to
            0.5.
        gt_label (int): label of every sample. Defaults to -1.
        pipeline (Sequence[dict]): transforms, e.g.
            ``[dict(type='PackInputs')]``.
        **kwargs: other arguments of mmpretrain's ``BaseDataset`` (e.g.
            ``classes`` or ``metainfo`` to match the in-distribution set in a
            ``ConcatDataset``, ``indices``, ``test_mode``).
    """

    def __init__(self,
                 num_samples: int = 10000,
                 shape: Sequence[int] = (32, 32, 3),
                 kind: str = 'uniform',
                 seed: int = 0,
                 mean: float = 0.5,
                 std: float = 0.5,
                 gt_label: int = -1,
                 pipeline: Sequence = (),
                 **kwargs):
        if (not isinstance(num_samples, numbers.Integral)
                or isinstance(num_samples, bool) or num_samples < 1):
            raise ValueError(
                f'num_samples must be a positive integer, got {num_samples!r}')
        if kind not in NOISE_KINDS:
            raise ValueError(f'kind must be one of {NOISE_KINDS}, got '
                             f'{kind!r}')
        if not isinstance(seed, numbers.Integral) or seed < 0:
            raise ValueError(f'seed must be an integer >= 0, got {seed!r}')
        if not (isinstance(std, numbers.Real) and std > 0):
            raise ValueError(f'std must be > 0, got {std!r}')
        if not isinstance(gt_label, numbers.Integral):
            raise ValueError(f'gt_label must be an integer, got {gt_label!r}')
        self.num_samples = int(num_samples)
        self.shape = _check_shape(shape)
        self.kind = kind
        self.seed = int(seed)
        self.mean = float(mean)
        self.std = float(std)
        self.gt_label = int(gt_label)
        kwargs.setdefault('ann_file', '')
        super().__init__(pipeline=pipeline, **kwargs)

    def load_data_list(self) -> List[dict]:
        # images are drawn in get_data_info; keep only their index here
        return [
            dict(noise_idx=i, gt_label=self.gt_label, is_ood=True)
            for i in range(self.num_samples)
        ]

    def make_image(self, noise_idx: int) -> np.ndarray:
        """The ``noise_idx``-th image, a ``uint8`` array of ``shape``."""
        rng = np.random.default_rng([self.seed, int(noise_idx)])
        if self.kind == 'uniform':
            x = rng.random(self.shape)
        else:
            x = np.clip(rng.normal(self.mean, self.std, self.shape), 0, 1)
        return np.rint(x * 255).astype(np.uint8)

    def get_data_info(self, idx: int) -> dict:
        data_info = super().get_data_info(idx)
        data_info['img'] = self.make_image(data_info['noise_idx'])
        return data_info

    def get_gt_labels(self) -> np.ndarray:
        """All labels (``gt_label`` each), without drawing the images."""
        return np.full(len(self), self.gt_label, dtype=np.int64)

    def extra_repr(self) -> List[str]:
        return [
            f'Kind: \t{self.kind}', f'Image shape: \t{self.shape}',
            f'Seed: \t{self.seed}'
        ]
