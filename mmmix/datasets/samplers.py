"""Class-balanced batch sampling for deep metric learning."""
import math
import numbers
from typing import Iterator, List, Optional, Sized

import numpy as np
from mmengine.dist import get_dist_info, sync_random_seed
from torch.utils.data import Sampler

from mmmix.registry import DATA_SAMPLERS

__all__ = ['ClassBalancedSampler']


def _labels_of(dataset) -> np.ndarray:
    if hasattr(dataset, 'get_gt_labels'):
        labels = dataset.get_gt_labels()
    else:
        labels = [
            dataset.get_data_info(i)['gt_label'] for i in range(len(dataset))
        ]
    labels = [int(np.asarray(label).reshape(-1)[0]) for label in labels]
    return np.asarray(labels, dtype=np.int64)


@DATA_SAMPLERS.register_module()
class ClassBalancedSampler(Sampler):
    """P classes x Q images per batch ("balanced" sampling, Metrix spec U6).

    Every batch of ``batch_size`` indices holds ``P = batch_size //
    samples_per_class`` distinct classes and ``Q = samples_per_class`` images
    of each, laid out class by class (``[c1] * Q + [c2] * Q + ...``). Inside
    a class the ``Q`` images are drawn without replacement when the class has
    at least ``Q`` images and with replacement otherwise. Classes are taken
    in turn from a shuffled list (reshuffled when it runs out, never
    repeating a class inside a batch), so every class comes up about once
    every ``C / P`` batches.

    An epoch has ``max(1, N // batch_size)`` batches in all (``N`` the
    dataset length), for all ranks together: every rank builds the same
    sequence of batches from ``seed`` and the epoch and yields batches
    ``rank, rank + world_size, ...`` of it. Every rank yields the same
    number of batches: ``ceil(num_batches / world_size)`` with ``round_up``
    (a few extra batches are drawn to fill the last round) and ``floor``
    without (the remainder is dropped).

    The sampler yields flat indices; the data loader groups them into
    batches, so **the data loader's** ``batch_size`` **must equal this
    sampler's** ``batch_size`` (per rank), or batches would straddle the
    class groups. For example::

        train_dataloader = dict(
            batch_size=100,
            sampler=dict(type='mmmix.ClassBalancedSampler',
                         samples_per_class=5, batch_size=100),
            ...)

    Args:
        dataset (Sized): The dataset; labels come from ``get_gt_labels()``
            when it has one, else from ``get_data_info(i)['gt_label']``.
        samples_per_class (int): ``Q``, images per class in a batch.
            Defaults to 5.
        batch_size (int): Images per batch, a multiple of
            ``samples_per_class``. Defaults to 100 (20 classes x 5).
        seed (int, optional): Random seed, identical on all ranks. Defaults
            to None: mmengine's ``sync_random_seed()``, as in mmengine's
            ``DefaultSampler``.
        round_up (bool): Round the batches per rank up (True) or down
            (False) when ``world_size`` does not divide the number of
            batches. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 samples_per_class: int = 5,
                 batch_size: int = 100,
                 seed: Optional[int] = None,
                 round_up: bool = True) -> None:
        for name, value in (('samples_per_class', samples_per_class),
                            ('batch_size', batch_size)):
            if isinstance(value, bool) or not isinstance(
                    value, numbers.Integral) or value < 1:
                raise ValueError(
                    f'{name} must be a positive int, got {value!r}')
        samples_per_class, batch_size = int(samples_per_class), int(
            batch_size)
        if batch_size % samples_per_class:
            raise ValueError(
                f'batch_size ({batch_size}) must be a multiple of '
                f'samples_per_class ({samples_per_class}).')
        self.dataset = dataset
        self.samples_per_class = samples_per_class
        self.batch_size = batch_size
        self.classes_per_batch = batch_size // samples_per_class
        self.rank, self.world_size = get_dist_info()
        self.seed = sync_random_seed() if seed is None else int(seed)
        self.epoch = 0
        self.round_up = round_up

        labels = _labels_of(dataset)
        self.classes, inverse = np.unique(labels, return_inverse=True)
        self.class_indices: List[np.ndarray] = [
            np.flatnonzero(inverse == i) for i in range(len(self.classes))
        ]
        if len(self.classes) < self.classes_per_batch:
            raise ValueError(
                f'A batch needs {self.classes_per_batch} distinct classes '
                f'(batch_size {batch_size} // samples_per_class '
                f'{samples_per_class}) but the dataset has only '
                f'{len(self.classes)}.')

        self.total_batches = max(1, len(labels) // batch_size)
        if round_up:
            self.num_batches = math.ceil(self.total_batches / self.world_size)
        else:
            self.num_batches = self.total_batches // self.world_size

    def _batches(self) -> List[List[int]]:
        """All ranks' batches of the current epoch, the same on each rank."""
        rng = np.random.default_rng(
            np.random.SeedSequence([self.seed % (1 << 64), self.epoch]))
        num_classes = len(self.class_indices)
        p, q = self.classes_per_batch, self.samples_per_class
        queue: List[int] = []
        batches = []
        for _ in range(self.num_batches * self.world_size):
            if len(queue) < p:
                # keep the leftovers first, then a fresh shuffle of the rest
                left = set(queue)
                queue += [
                    int(c) for c in rng.permutation(num_classes)
                    if c not in left
                ]
            chosen, queue = queue[:p], queue[p:]
            batch = []
            for c in chosen:
                members = self.class_indices[c]
                if len(members) >= q:
                    picked = rng.permutation(members)[:q]
                else:
                    picked = rng.choice(members, q, replace=True)
                batch.extend(int(i) for i in picked)
            batches.append(batch)
        return batches

    def __iter__(self) -> Iterator[int]:
        mine = self._batches()[self.rank::self.world_size]
        return iter([i for batch in mine for i in batch])

    def __len__(self) -> int:
        """Indices yielded by this rank in an epoch."""
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch; each epoch draws other batches for a fixed seed."""
        self.epoch = epoch
