"""The IC-GAN's training data (Casanova et al., 2021; LMA, Yang et al.,
2022): instances and their k nearest neighbours in a frozen feature space.
"""
import copy
from typing import Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

from mmmix.registry import DATASETS

from .feature_bank import FeatureBank

_MODES = ('train', 'val')


def load_knn_graph(knn: Union[str, np.ndarray], num_samples: int
                   ) -> np.ndarray:
    """Load and check an (N, k) neighbour table (self excluded)."""
    table = np.load(knn) if isinstance(knn, str) else np.asarray(knn)
    if table.ndim != 2 or table.shape[0] != num_samples or table.shape[1] < 1:
        raise ValueError(f'the kNN graph must have shape (N={num_samples}, '
                         f'k >= 1), got {table.shape}')
    if table.min() < 0 or table.max() >= num_samples:
        raise ValueError('kNN graph entries must lie in [0, '
                         f'{num_samples}), found [{table.min()}, '
                         f'{table.max()}]')
    if (table == np.arange(num_samples)[:, None]).any():
        raise ValueError('the kNN graph lists an instance as its own '
                         'neighbour; build it with self excluded '
                         '(tools/lma/build_knn.py)')
    return table.astype(np.int64)


@DATASETS.register_module()
class KNNInstanceDataset(Dataset):
    """Instance-conditioned samples: ``(x_n, h_i)`` with ``i`` the item
    index and ``n`` a uniformly drawn one of its k nearest neighbours.

    In ``'train'`` mode item ``i`` is the real image of a neighbour ``n ~
    U(kNN(i))`` (never ``i`` itself) packed by the inner dataset's pipeline,
    with the data sample's field ``cond`` = the bank row ``h_i`` (or, with
    probability ``flip_prob``, the row of the flipped image: IC-GAN's
    feature augmentation), ``cond_idx`` = ``i`` and ``neighbour_idx`` =
    ``n``. An epoch visits every instance once (IC-GAN's
    "instance_balance"). In ``'val'`` mode item ``i`` is the image ``x_i``
    itself with ``h_i`` (the Frechet distance compares samples conditioned
    on the instances with the instances).

    Args:
        dataset (dict | Dataset): the image dataset, in the bank's order;
            its pipeline must pack (e.g. ``[dict(type='PackInputs')]``).
        bank (str): feature bank folder
            (:class:`~mmmix.datasets.FeatureBank`, e.g. written by
            ``tools/lma/extract_features.py``); its fingerprint must match
            the dataset.
        knn (str): ``(N, k)`` neighbour table (.npy, self excluded, e.g.
            written by ``tools/lma/build_knn.py``).
        mode (str): ``'train'`` or ``'val'``. Defaults to ``'train'``.
        flip_prob (float): probability of conditioning on the flipped
            image's feature in training (needs a bank saved with
            ``--flip``). Defaults to 0.
        max_samples (int, optional): only the first ``max_samples``
            instances (e.g. a validation subset).
    """

    def __init__(self,
                 dataset: Union[dict, Dataset],
                 bank: str,
                 knn: Optional[str] = None,
                 mode: str = 'train',
                 flip_prob: float = 0.,
                 max_samples: Optional[int] = None):
        if mode not in _MODES:
            raise ValueError(f'mode must be one of {_MODES}, got {mode!r}')
        if not 0 <= flip_prob <= 1:
            raise ValueError(f'flip_prob must be in [0, 1], got {flip_prob}')
        if isinstance(dataset, dict):
            dataset = DATASETS.build(copy.deepcopy(dataset))
        self.dataset = dataset
        self.bank = FeatureBank.load(bank, dataset=dataset)
        if flip_prob > 0 and self.bank.flip is None:
            raise ValueError(f'flip_prob={flip_prob} needs a bank with '
                             'flipped-image features (extract with --flip)')
        n = len(dataset)
        if mode == 'train':
            if knn is None:
                raise ValueError("mode='train' needs the kNN graph (knn=)")
            self.knn = load_knn_graph(knn, n)
        else:
            self.knn = None
        self.mode = mode
        self.flip_prob = flip_prob
        if max_samples is not None and not 1 <= max_samples <= n:
            raise ValueError(f'max_samples must be in [1, {n}], got '
                             f'{max_samples}')
        self.num_samples = max_samples or n
        self.metainfo = getattr(dataset, 'metainfo', {})

    @property
    def cond_dim(self) -> int:
        return self.bank.dim

    def __len__(self) -> int:
        return self.num_samples

    def __getitem__(self, idx: int) -> dict:
        if not 0 <= idx < self.num_samples:
            raise IndexError(f'index {idx} out of range [0, '
                             f'{self.num_samples})')
        if self.mode == 'train':
            # torch's RNG: the DataLoader seeds it per worker.
            j = int(torch.randint(self.knn.shape[1], ()))
            src = int(self.knn[idx, j])
            flip = (self.flip_prob > 0
                    and float(torch.rand(())) < self.flip_prob)
        else:
            src, flip = idx, False
        out = self.dataset[src]
        bank = self.bank.flip if flip else self.bank
        sample = out['data_samples']
        sample.set_field(bank[idx], 'cond')
        sample.set_field(idx, 'cond_idx', field_type='metainfo')
        sample.set_field(src, 'neighbour_idx', field_type='metainfo')
        return out
