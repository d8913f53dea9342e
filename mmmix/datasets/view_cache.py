"""On-disk cache of generated views, indexed by (view slot, sample_idx).

Assimilating-views spec U1 (and 4.6, A16, A33). Layout of a cache folder:

- ``views.npy``: uint8, ``(num_views, N, H, W, C)``, or
  ``(num_views, N, H, W)`` for grey images stored like
  :class:`~mmmix.datasets.FashionMNIST`'s ``img``. Generator outputs ``x``
  in [-1, 1] are stored as ``round((clamp(x, -1, 1) + 1) * 127.5)``
  (:func:`to_uint8`): the error is at most 0.5/255 of the [0, 1] range and
  the cache is 4x smaller than float32 (spec A33);
- ``done.npy``: bool ``(num_views, N)``: which rows are written, so an
  interrupted build resumes (:meth:`ViewCache.missing`);
- ``latents.npy`` / ``latents_done.npy`` (optional): float32
  ``(N, L, D)`` latents (e.g. W+ codes of an inversion) and their mask;
- ``build.json``: the creation arguments, written at creation;
- ``meta.json``: written by :meth:`ViewCacheWriter.finalize` once every
  row is written: dataset ``fingerprint``, ``num_samples``, ``num_views``,
  ``height``, ``width``, ``channels``, ``layout`` (``'HW'`` or ``'HWC'``),
  ``channel_order``, ``method``, ``hparams``, ``checkpoint_sha256`` and
  any other key the builder passes.

Arrays are written through ``np.lib.format.open_memmap`` and read with
``mmap_mode='r'``: a reader touches only the rows it returns.
"""
import json
import os
import os.path as osp
from numbers import Integral
from typing import Dict, Optional, Sequence

import numpy as np
import torch

from .feature_bank import as_index_array, file_sha256
from .fingerprint import dataset_fingerprint, verify_dataset

VIEWS_FILE = 'views.npy'
DONE_FILE = 'done.npy'
LATENTS_FILE = 'latents.npy'
LATENTS_DONE_FILE = 'latents_done.npy'
BUILD_FILE = 'build.json'
META_FILE = 'meta.json'
CHANNEL_ORDERS = ('rgb', 'bgr')


def to_uint8(images) -> np.ndarray:
    """Float images in [-1, 1], ``(B, C, H, W)`` (torch or numpy), to uint8
    ``(B, H, W, C)``: ``round((clamp(x, -1, 1) + 1) * 127.5)``, computed
    in float64 (-1 -> 0, 1 -> 255)."""
    if isinstance(images, torch.Tensor):
        x = images.detach().to('cpu', torch.float64).numpy()
    else:
        x = np.asarray(images, dtype=np.float64)
    if x.ndim != 4:
        raise ValueError('float images must be (B, C, H, W), got shape '
                         f'{x.shape}')
    if np.isnan(x).any():
        raise ValueError('images contain NaN')
    q = np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    return np.ascontiguousarray(q.transpose(0, 2, 3, 1))


def _check_shape(shape) -> tuple:
    if (isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence)
            or len(shape) not in (2, 3) or not all(
                isinstance(s, Integral) and not isinstance(s, bool) and s >= 1
                for s in shape)):
        raise ValueError('shape must be (H, W) or (H, W, C) of positive '
                         f'integers, got {shape!r}')
    return tuple(int(s) for s in shape)


def _slot(view_slot, num_views: int) -> int:
    if not isinstance(view_slot, Integral) or isinstance(view_slot, bool):
        raise TypeError(f'view_slot must be an int, got {view_slot!r}')
    if not 0 <= view_slot < num_views:
        raise IndexError(f'view_slot {view_slot} is out of range '
                         f'[0, {num_views})')
    return int(view_slot)


class ViewCacheWriter:
    """Writes a cache created by :meth:`ViewCache.create` (see module doc).
    """

    def __init__(self, path: str, build: Dict, mode: str):
        self.path = path
        self.build = build
        n, v = build['num_samples'], build['num_views']
        shape = tuple(build['shape'])
        self.sample_shape = shape
        self.views = np.lib.format.open_memmap(
            osp.join(path, VIEWS_FILE), mode=mode, dtype=np.uint8,
            shape=(v, n, *shape))
        self.done = np.lib.format.open_memmap(
            osp.join(path, DONE_FILE), mode=mode, dtype=np.bool_,
            shape=(v, n))
        self.latents = self.latents_done = None
        if build.get('latent_shape') is not None:
            self.latents = np.lib.format.open_memmap(
                osp.join(path, LATENTS_FILE), mode=mode, dtype=np.float32,
                shape=(n, *build['latent_shape']))
            self.latents_done = np.lib.format.open_memmap(
                osp.join(path, LATENTS_DONE_FILE), mode=mode, dtype=np.bool_,
                shape=(n, ))

    @property
    def num_samples(self) -> int:
        return self.build['num_samples']

    @property
    def num_views(self) -> int:
        return self.build['num_views']

    def _as_uint8(self, images) -> np.ndarray:
        shape = self.sample_shape
        if (isinstance(images, torch.Tensor) and images.is_floating_point()
                or isinstance(images, np.ndarray)
                and np.issubdtype(images.dtype, np.floating)):
            channels = shape[2] if len(shape) == 3 else 1
            if images.ndim != 4 or tuple(images.shape[1:]) != (
                    channels, *shape[:2]):
                raise ValueError(
                    'float images must be (B, C, H, W) = (B, '
                    f'{channels}, {shape[0]}, {shape[1]}) for this cache, got'
                    f' {tuple(images.shape)}')
            q = to_uint8(images)
            return q[..., 0] if len(shape) == 2 else q
        if isinstance(images, torch.Tensor):
            images = images.cpu().numpy()
        images = np.asarray(images)
        if images.dtype != np.uint8:
            raise TypeError('images must be floats in [-1, 1] (B, C, H, W) or'
                            f' uint8 (B, *{shape}), got dtype {images.dtype}')
        if tuple(images.shape[1:]) != shape:
            raise ValueError(f'uint8 images must be (B, *{shape}) for this '
                             f'cache, got {tuple(images.shape)}')
        return images

    def write(self, view_slot: int, indices, images) -> None:
        """Store ``images`` as rows ``indices`` of slot ``view_slot``.

        Args:
            view_slot (int): in ``[0, num_views)``.
            indices: ``(B,)`` sample indices in ``[0, N)``.
            images: float ``(B, C, H, W)`` in [-1, 1] (torch or numpy;
                quantised by :func:`to_uint8`) or uint8 in the stored layout
                ``(B, H, W[, C])``.
        """
        slot = _slot(view_slot, self.num_views)
        idx = as_index_array(indices, self.num_samples, 'sample index')
        idx = idx.reshape(-1)
        q = self._as_uint8(images)
        if len(q) != len(idx):
            raise ValueError(f'{len(idx)} indices but {len(q)} images')
        self.views[slot, idx] = q
        self.views.flush()  # rows on disk before they are marked written
        self.done[slot, idx] = True
        self.done.flush()

    def write_latents(self, indices, latents) -> None:
        """Store ``(B, L, D)`` float latents as rows ``indices``."""
        if self.latents is None:
            raise ValueError('this cache was created without latent_shape')
        idx = as_index_array(indices, self.num_samples, 'sample index')
        idx = idx.reshape(-1)
        if isinstance(latents, torch.Tensor):
            latents = latents.detach().cpu().numpy()
        latents = np.asarray(latents, dtype=np.float32)
        if latents.shape != (len(idx), *self.latents.shape[1:]):
            raise ValueError(f'latents must be (B, *{self.latents.shape[1:]})'
                             f' with B={len(idx)}, got {latents.shape}')
        self.latents[idx] = latents
        self.latents.flush()
        self.latents_done[idx] = True
        self.latents_done.flush()

    def missing(self, view_slot: Optional[int] = None) -> np.ndarray:
        """Sample indices not yet written (in ``view_slot``, or in any
        slot when ``None``)."""
        if view_slot is None:
            return np.flatnonzero(~np.asarray(self.done).all(0))
        slot = _slot(view_slot, self.num_views)
        return np.flatnonzero(~np.asarray(self.done[slot]))

    def finalize(self, **extra) -> Dict:
        """Write ``meta.json`` once every row is written.

        Args:
            **extra: more JSON-serialisable meta keys.

        Raises:
            ValueError: some rows (or latents) are not written.
        """
        done = np.asarray(self.done)
        if not done.all():
            per_slot = (~done).sum(1).tolist()
            raise ValueError(f'cannot finalize {self.path}: rows not written '
                             f'per view slot: {per_slot} (of '
                             f'{self.num_samples}); resume the build')
        if self.latents_done is not None and not np.asarray(
                self.latents_done).all():
            raise ValueError(
                f'cannot finalize {self.path}: '
                f'{int((~np.asarray(self.latents_done)).sum())} latent rows '
                'not written')
        shape = self.sample_shape
        meta = dict(self.build.get('meta') or {})
        meta.update(extra)
        meta.update(
            fingerprint=self.build.get('fingerprint'),
            num_samples=self.num_samples,
            num_views=self.num_views,
            height=shape[0],
            width=shape[1],
            channels=shape[2] if len(shape) == 3 else 1,
            layout='HWC' if len(shape) == 3 else 'HW',
            channel_order=self.build['channel_order'],
            latent_shape=self.build.get('latent_shape'),
            checkpoint_sha256=self.build.get('checkpoint_sha256'))
        meta.setdefault('method', None)
        meta.setdefault('hparams', {})
        with open(osp.join(self.path, META_FILE), 'w') as f:
            json.dump(meta, f, indent=1)
        return meta


class ViewCache:
    """Read-only access to a finalized generated-view cache.

    ``cache.get(view_slot, idx)`` returns the uint8 image in the stored
    layout (that of the dataset's ``img``: ``(H, W)`` grey or ``(H, W, C)``
    in ``meta['channel_order']``).
    """

    def __init__(self, path: str, meta: Dict, views: np.ndarray,
                 latents: Optional[np.ndarray] = None):
        self.path = path
        self.meta = meta
        self.views = views
        self.latents = latents

    @staticmethod
    def create(path: str,
               num_samples: int,
               num_views: int,
               shape: Sequence[int],
               meta: Optional[Dict] = None,
               latent_shape: Optional[Sequence[int]] = None,
               channel_order: str = 'rgb',
               dataset=None,
               fingerprint: Optional[Dict] = None,
               checkpoint: Optional[str] = None,
               resume: bool = True) -> ViewCacheWriter:
        """Create a cache folder (or re-open a partial one) for writing.

        Args:
            path (str): the cache folder.
            num_samples (int): ``N``, the dataset length.
            num_views (int): cached views per sample.
            shape (Sequence[int]): ``(H, W)`` (grey) or ``(H, W, C)``.
            meta (dict, optional): meta keys for ``meta.json`` (e.g.
                ``method``, ``hparams``).
            latent_shape (Sequence[int], optional): ``(L, D)`` to also store
                float32 latents.
            channel_order (str): ``'rgb'`` or ``'bgr'``, the order of the
                stored colour channels.
            dataset (optional): the dataset the rows follow; its
                fingerprint is stored (or pass ``fingerprint``).
            fingerprint (dict, optional): a precomputed fingerprint.
            checkpoint (str, optional): the generator checkpoint file; its
                sha256 is stored.
            resume (bool): re-open an existing partial build with the same
                arguments (default); ``False`` starts afresh.

        Raises:
            ValueError: bad arguments, or an existing build created with
                other arguments.
        """
        shape = _check_shape(shape)
        for name, value in (('num_samples', num_samples),
                            ('num_views', num_views)):
            if (not isinstance(value, Integral) or isinstance(value, bool)
                    or value < 1):
                raise ValueError(f'{name} must be an int >= 1, got {value!r}')
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}'
                             f', got {channel_order!r}')
        if latent_shape is not None:
            latent_shape = [int(s) for s in latent_shape]
        if dataset is not None:
            if len(dataset) != num_samples:
                raise ValueError(f'num_samples={num_samples} but the dataset '
                                 f'has {len(dataset)} samples')
            fingerprint = dataset_fingerprint(dataset)
        if fingerprint is not None and fingerprint.get(
                'num_samples') != num_samples:
            raise ValueError(f'fingerprint num_samples '
                             f'{fingerprint.get("num_samples")} != '
                             f'num_samples={num_samples}')
        build = dict(
            num_samples=int(num_samples),
            num_views=int(num_views),
            shape=list(shape),
            latent_shape=latent_shape,
            channel_order=channel_order,
            fingerprint=fingerprint,
            checkpoint_sha256=(file_sha256(checkpoint)
                               if checkpoint is not None else None),
            meta=dict(meta or {}))
        build = json.loads(json.dumps(build))  # as it reads back
        build_path = osp.join(path, BUILD_FILE)
        if resume and osp.isfile(build_path):
            with open(build_path) as f:
                stored = json.load(f)
            diff = [
                f'{k}: stored {stored.get(k)!r} vs requested {build[k]!r}'
                for k in ('num_samples', 'num_views', 'shape', 'latent_shape',
                          'channel_order', 'fingerprint', 'checkpoint_sha256')
                if stored.get(k) != build[k]
            ]
            if diff:
                raise ValueError(f'{path} holds a partial build with other '
                                 'arguments (pass resume=False to start '
                                 'afresh): ' + '; '.join(diff)[:2000])
            return ViewCacheWriter(path, stored, mode='r+')
        os.makedirs(path, exist_ok=True)
        if osp.exists(osp.join(path, META_FILE)):
            os.remove(osp.join(path, META_FILE))
        writer = ViewCacheWriter(path, build, mode='w+')
        with open(build_path, 'w') as f:
            json.dump(build, f, indent=1)
        return writer

    @classmethod
    def open(cls, path: str, dataset=None) -> 'ViewCache':
        """Open a finalized cache read-only (memory-mapped).

        Args:
            path (str): the cache folder.
            dataset (optional): if given, its fingerprint must match.

        Raises:
            FileNotFoundError: not a finalized cache.
            ValueError: rows not written, arrays inconsistent with
                ``meta.json``, or a dataset mismatch.
        """
        meta_path = osp.join(path, META_FILE)
        if not osp.isfile(meta_path):
            hint = (' (a partial build: resume and finalize it)'
                    if osp.isfile(osp.join(path, BUILD_FILE)) else '')
            raise FileNotFoundError(f'{meta_path} not found: not a finalized '
                                    f'view cache{hint}')
        with open(meta_path) as f:
            meta = json.load(f)
        views = np.load(osp.join(path, VIEWS_FILE), mmap_mode='r')
        shape = (meta['num_views'], meta['num_samples'], meta['height'],
                 meta['width'])
        if meta.get('layout', 'HWC') == 'HWC':
            shape += (meta['channels'], )
        if views.shape != shape or views.dtype != np.uint8:
            raise ValueError(f'{path}/{VIEWS_FILE} is {views.dtype} '
                             f'{views.shape}, meta.json says uint8 {shape}')
        done = np.load(osp.join(path, DONE_FILE), mmap_mode='r')
        if not np.asarray(done).all():
            raise ValueError(f'{path}: {int((~np.asarray(done)).sum())} rows '
                             'are not written')
        latents = None
        if osp.isfile(osp.join(path, LATENTS_FILE)):
            latents = np.load(osp.join(path, LATENTS_FILE), mmap_mode='r')
        if dataset is not None:
            verify_dataset(meta.get('fingerprint'), dataset,
                           what=f'view cache {path}')
        return cls(path, meta, views, latents)

    @property
    def num_samples(self) -> int:
        return int(self.meta['num_samples'])

    @property
    def num_views(self) -> int:
        return int(self.meta['num_views'])

    @property
    def sample_shape(self) -> tuple:
        return tuple(self.views.shape[2:])

    def get(self, view_slot: int, idx: int) -> np.ndarray:
        """A copy of view ``view_slot`` of sample ``idx`` (uint8).

        Raises:
            IndexError: naming the slot or index and its range.
        """
        slot = _slot(view_slot, self.num_views)
        i = int(as_index_array(idx, self.num_samples, 'sample index'))
        return np.array(self.views[slot, i])

    def __len__(self) -> int:
        return self.num_samples

    def __getstate__(self):
        state = self.__dict__.copy()
        state['views'] = state['latents'] = None  # re-opened on unpickle
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.views = np.load(osp.join(self.path, VIEWS_FILE), mmap_mode='r')
        if osp.isfile(osp.join(self.path, LATENTS_FILE)):
            self.latents = np.load(osp.join(self.path, LATENTS_FILE),
                                   mmap_mode='r')
