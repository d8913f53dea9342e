"""An on-disk bank of per-sample features, indexed by ``sample_idx``.

LMA conditions its generator on ``h_i = f(x_i) / ||f(x_i)||``, the frozen
embedding of the clean image ``i`` (LMA spec 2.3, 2.6). The bank stores the
``(N, d)`` matrix once so that SSL never runs ``f``:

- ``feats.npy``: ``(N, d)`` float16 or float32 (fp16 halves the size; rows
  are re-normalised to unit norm on access, so rounding does not change
  their norm);
- ``feats_flip.npy`` (optional): the features of the horizontally flipped
  images, same shape (IC-GAN feature augmentation);
- ``meta.json``: ``num_samples``, ``dim``, ``dtype``, ``has_flip``,
  ``checkpoint_sha256`` of the encoder (if given), a ``preprocessing``
  description, the dataset ``fingerprint``
  (:func:`~mmmix.datasets.fingerprint.dataset_fingerprint`) and any extra
  keys the caller passes.

The arrays are memory-mapped by default, so a dataloader worker reads only
the rows it needs. A pickled bank (e.g. sent to a spawned worker) re-opens
its files instead of copying the array.
"""
import hashlib
import json
import os
import os.path as osp
from numbers import Integral
from typing import Dict, Optional, Union

import numpy as np
import torch

from .fingerprint import dataset_fingerprint, verify_dataset

FEATS_FILE = 'feats.npy'
FLIP_FILE = 'feats_flip.npy'
META_FILE = 'meta.json'
DTYPES = ('float16', 'float32')


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(chunk), b''):
            digest.update(block)
    return digest.hexdigest()


def as_index_array(idx, num_rows: int, what: str = 'index') -> np.ndarray:
    """``idx`` (int, sequence, numpy array or tensor) as an int64 array,
    checked to lie in ``[0, num_rows)``.

    Raises:
        IndexError: naming the offending index and the valid range.
        TypeError: for non-integer indices.
    """
    if isinstance(idx, torch.Tensor):
        idx = idx.detach().cpu().numpy()
    arr = np.asarray(idx)
    if arr.dtype == bool or not (np.issubdtype(arr.dtype, np.integer)
                                 or arr.size == 0):
        raise TypeError(f'{what} must be integers, got dtype {arr.dtype}')
    arr = arr.astype(np.int64, copy=False)
    bad = (arr < 0) | (arr >= num_rows)
    if bad.any():
        first = int(arr[bad].flat[0])
        raise IndexError(f'{what} {first} is out of range [0, {num_rows})')
    return arr


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x)


class FeatureBank:
    """Read access to a saved feature bank (see module doc).

    Build one with :meth:`save`, open it with :meth:`load`.
    ``bank[idx]`` returns unit-norm float32 rows as a torch tensor:
    ``(d,)`` for an int, ``(B, d)`` for an array, list or tensor.

    Attributes:
        path (str): the bank folder.
        meta (dict): the content of ``meta.json``.
        flip (FeatureBank | None): the flipped-image bank, if saved.
    """

    def __init__(self, path: str, feats: np.ndarray, meta: Dict,
                 flip: Optional['FeatureBank'] = None, mmap: bool = True,
                 file: str = FEATS_FILE):
        self.path = path
        self.meta = meta
        self.flip = flip
        self._feats = feats
        self._mmap = mmap
        self._file = file

    # ------------------------------------------------------------ writing
    @staticmethod
    def save(path: str,
             feats,
             meta: Optional[Dict] = None,
             feats_flip=None,
             dtype: str = 'float32',
             dataset=None,
             fingerprint: Optional[Dict] = None,
             checkpoint: Optional[str] = None,
             preprocessing=None) -> Dict:
        """Write a bank to the folder ``path`` (created if needed).

        Args:
            path (str): output folder.
            feats (ndarray | Tensor): ``(N, d)`` features; L2-normalised
                here before the cast.
            meta (dict, optional): extra JSON-serialisable keys.
            feats_flip (ndarray | Tensor, optional): ``(N, d)`` features
                of the flipped images.
            dtype (str): ``'float16'`` or ``'float32'``.
            dataset (optional): the dataset the rows come from, in order;
                its fingerprint is stored (or pass ``fingerprint``).
            fingerprint (dict, optional): a precomputed fingerprint.
            checkpoint (str, optional): the encoder checkpoint file; its
                sha256 is stored as ``checkpoint_sha256``.
            preprocessing (optional): a JSON-serialisable description.

        Returns:
            dict: the written meta.

        Raises:
            ValueError: bad ``dtype``, shapes, non-finite or zero rows, or a
                dataset whose length is not ``N``.
        """
        if dtype not in DTYPES:
            raise ValueError(f'dtype must be one of {DTYPES}, got {dtype!r}')
        arrays = {}
        for name, x in ((FEATS_FILE, feats), (FLIP_FILE, feats_flip)):
            if x is None:
                continue
            x = _to_numpy(x).astype(np.float64)
            if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
                raise ValueError(f'{name[:-4]} must be (N, d) with N, d >= '
                                 f'1, got shape {x.shape}')
            if not np.isfinite(x).all():
                raise ValueError(f'{name[:-4]} has non-finite values')
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            if (norms == 0).any():
                raise ValueError(f'{name[:-4]} has all-zero rows (e.g. row '
                                 f'{int(np.argmin(norms[:, 0]))})')
            arrays[name] = (x / norms).astype(dtype)
        n, d = arrays[FEATS_FILE].shape
        if FLIP_FILE in arrays and arrays[FLIP_FILE].shape != (n, d):
            raise ValueError(f'feats_flip has shape {arrays[FLIP_FILE].shape}'
                             f', feats {(n, d)}')
        if dataset is not None:
            if len(dataset) != n:
                raise ValueError(f'the dataset has {len(dataset)} samples, '
                                 f'feats {n} rows')
            fingerprint = dataset_fingerprint(dataset)
        if fingerprint is not None and fingerprint.get('num_samples') != n:
            raise ValueError('fingerprint num_samples '
                             f'{fingerprint.get("num_samples")} != {n} rows')
        info = dict(meta or {})
        info.update(
            num_samples=int(n),
            dim=int(d),
            dtype=dtype,
            has_flip=FLIP_FILE in arrays,
            normalized=True,
            checkpoint_sha256=(file_sha256(checkpoint)
                               if checkpoint is not None else
                               info.get('checkpoint_sha256')),
            preprocessing=(preprocessing if preprocessing is not None else
                           info.get('preprocessing')),
            fingerprint=fingerprint)
        os.makedirs(path, exist_ok=True)
        if FLIP_FILE not in arrays and osp.exists(osp.join(path, FLIP_FILE)):
            os.remove(osp.join(path, FLIP_FILE))
        for name, x in arrays.items():
            np.save(osp.join(path, name), x)
        with open(osp.join(path, META_FILE), 'w') as f:
            json.dump(info, f, indent=1)
        return info

    # ------------------------------------------------------------ reading
    @classmethod
    def load(cls, path: str, dataset=None, mmap: bool = True
             ) -> 'FeatureBank':
        """Open the bank in folder ``path``.

        Args:
            path (str): the bank folder.
            dataset (optional): if given, its fingerprint must match the
                stored one.
            mmap (bool): memory-map the arrays (default) instead of
                loading them.

        Raises:
            FileNotFoundError: a file is missing.
            ValueError: the arrays disagree with ``meta.json`` or the
                dataset does not match.
        """
        meta_path = osp.join(path, META_FILE)
        if not osp.isfile(meta_path):
            raise FileNotFoundError(f'{meta_path} not found: not a feature '
                                    'bank folder (FeatureBank.save writes '
                                    'it)')
        with open(meta_path) as f:
            meta = json.load(f)
        feats = cls._open(path, FEATS_FILE, meta, mmap)
        flip = None
        if meta.get('has_flip'):
            flip = cls(path, cls._open(path, FLIP_FILE, meta, mmap), meta,
                       mmap=mmap, file=FLIP_FILE)
        bank = cls(path, feats, meta, flip=flip, mmap=mmap)
        if dataset is not None:
            verify_dataset(meta.get('fingerprint'), dataset,
                           what=f'feature bank {path}')
        return bank

    @staticmethod
    def _open(path: str, name: str, meta: Dict, mmap: bool) -> np.ndarray:
        file = osp.join(path, name)
        if not osp.isfile(file):
            raise FileNotFoundError(f'{file} not found')
        arr = np.load(file, mmap_mode='r' if mmap else None)
        expect = (meta.get('num_samples'), meta.get('dim'))
        if arr.ndim != 2 or tuple(arr.shape) != expect:
            raise ValueError(f'{file} has shape {arr.shape}, meta.json says '
                             f'(num_samples, dim) = {expect}')
        if str(arr.dtype) != meta.get('dtype'):
            raise ValueError(f'{file} has dtype {arr.dtype}, meta.json says '
                             f'{meta.get("dtype")}')
        return arr

    def __getstate__(self):
        state = self.__dict__.copy()
        if self._mmap:  # re-open the file instead of pickling the rows
            state['_feats'] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._feats is None:
            self._feats = self._open(self.path, self._file, self.meta, True)

    def __len__(self) -> int:
        return int(self._feats.shape[0])

    @property
    def dim(self) -> int:
        return int(self._feats.shape[1])

    @property
    def array(self) -> np.ndarray:
        """The raw stored array (memmap when opened with ``mmap``)."""
        return self._feats

    def __getitem__(self, idx: Union[int, np.ndarray, torch.Tensor]
                    ) -> torch.Tensor:
        scalar = isinstance(idx, Integral) or (
            isinstance(idx, (np.ndarray, torch.Tensor)) and idx.ndim == 0)
        arr = as_index_array(idx, len(self), what='feature bank index')
        rows = np.asarray(self._feats[arr.reshape(-1)], dtype=np.float32)
        rows = torch.from_numpy(rows)
        rows = rows / rows.norm(dim=1, keepdim=True).clamp_min(1e-12)
        if scalar:
            return rows[0]
        return rows.reshape(*arr.shape, self.dim)

    def to_tensor(self) -> torch.Tensor:
        """All rows, ``(N, d)`` float32, unit norm."""
        return self[np.arange(len(self))]

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(path={self.path!r}, '
                f'num_samples={len(self)}, dim={self.dim}, '
                f'dtype={self._feats.dtype}, flip={self.flip is not None})')


def verify_bank(bank, dataset, what: str = 'LMA feature bank') -> None:
    """Check a feature bank (its folder or a loaded :class:`FeatureBank`)
    against ``dataset``'s fingerprint; ``None`` passes."""
    if isinstance(bank, str):
        FeatureBank.load(bank, dataset=dataset)
    elif bank is not None:
        verify_dataset(bank.meta.get('fingerprint'), dataset, what=what)
