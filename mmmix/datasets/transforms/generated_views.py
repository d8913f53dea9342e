"""Transforms that replace a view by a generated (or neighbour) image.

- :class:`LocalManifoldAugment`: LMA (Yang et al. 2022), the image is
  replaced with probability ``prob`` by ``G_ema(z, H[sample_idx])``, a
  fresh sample of a frozen instance-conditioned generator (LMA spec 2.6,
  2.7, U7).
- :class:`LoadGeneratedView`: the image is replaced by one of the views of
  an offline :class:`~mmmix.datasets.ViewCache` (assimilating-views spec
  4.6, U2).
- :class:`KNNReplace`: the image is replaced with probability ``prob`` by
  one of its ``k`` nearest neighbours (LMA Table 4 ablation, U10).

All three read ``results['sample_idx']`` (mmengine datasets put it in every
data info) and must come **first** in a view pipeline, before any
augmentation (LMA spec 2.7): inside ``MultiView`` every view draws
independently. They open their files lazily, once per process, so
dataloader workers (forked or spawned) each memory-map their own copy.

Randomness comes from torch's RNG, not numpy's: PyTorch seeds torch's RNG
differently in every dataloader worker (``base_seed + worker_id``, a new
``base_seed`` every epoch), so workers draw independently without a seed.
With ``seed`` set, a ``torch.Generator`` is seeded from ``seed`` and the
worker's torch seed (just ``seed`` outside workers): reproducible for a
seeded run (mmengine's ``randomness.seed`` fixes the base seed), different
across workers and epochs.

None of the transforms sees the dataset, so each can only compare the
length of its source with ``expected_num_samples`` at the first call.
:func:`check_generated_view_sources` does the full check (dataset
fingerprint, row count, pipeline position) from the dataset: call it
before training, e.g. in a hook's ``before_train`` with
``runner.train_dataloader.dataset``.
"""
import copy
import os
import warnings
from numbers import Integral, Real
from typing import List, Optional, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mmmix.registry import TRANSFORMS

from ..feature_bank import as_index_array
from ..view_cache import CHANNEL_ORDERS, ViewCache, to_uint8


def _sample_index(results: dict, key: str, name: str) -> int:
    if key not in results:
        raise KeyError(
            f'{name} needs results[{key!r}], the index of the sample in the '
            'dataset: the dataset must provide it (mmengine datasets set '
            '"sample_idx" in get_data_info) and no earlier transform may '
            'drop it; put this transform first in the view pipeline, before '
            'PackInputs')
    idx = results[key]
    if isinstance(idx, (np.ndarray, torch.Tensor)) and idx.ndim == 0:
        idx = idx.item()
    if not isinstance(idx, Integral) or isinstance(idx, bool):
        raise TypeError(f'{name}: results[{key!r}] must be an int, got '
                        f'{idx!r}')
    return int(idx)


def _check_prob(prob) -> float:
    if (not isinstance(prob, Real) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f'prob must be a number in [0, 1], got {prob!r}')
    return float(prob)


def _check_expected(expected, actual: int, what: str) -> None:
    if expected is not None and int(expected) != actual:
        raise ValueError(f'{what} has {actual} rows but '
                         f'expected_num_samples={expected} (the dataset '
                         'length): it was built for another dataset or '
                         'subset')


def _channels(img: np.ndarray) -> int:
    return 1 if img.ndim == 2 else int(img.shape[2])


class _PerProcessRandom:
    """Lazy per-process state: a ``torch.Generator`` (with ``seed``) or
    ``None`` (torch's global RNG, which DataLoader seeds per worker)."""

    def _init_random(self, seed: Optional[int]) -> None:
        if seed is not None and (not isinstance(seed, Integral)
                                 or isinstance(seed, bool)):
            raise ValueError(f'seed must be None or an int, got {seed!r}')
        self.seed = seed
        self._pid = None
        self._rng = None

    def _process_changed(self) -> bool:
        return self._pid != os.getpid()

    def _reset_random(self) -> None:
        self._pid = os.getpid()
        self._rng = None
        if self.seed is not None:
            info = torch.utils.data.get_worker_info()
            entropy = [int(self.seed)]
            if info is not None:
                entropy.append(int(info.seed) % 2**63)
            state = np.random.SeedSequence(entropy).generate_state(2)
            seed = int(state[0]) << 32 | int(state[1])
            self._rng = torch.Generator().manual_seed(seed % 2**63)

    def _uniform(self) -> float:
        return float(torch.rand((), generator=self._rng))

    def _randint(self, high: int) -> int:
        return int(torch.randint(high, (), generator=self._rng))

    def __getstate__(self):
        state = self.__dict__.copy()
        state['_pid'] = None  # a copy in another process starts afresh
        state['_rng'] = None
        return state


@TRANSFORMS.register_module()
class LocalManifoldAugment(_PerProcessRandom, BaseTransform):
    """LMA: replace the image by a generated neighbour with prob ``prob``.

    With probability ``prob`` (α) ``results['img']`` becomes
    ``G_ema(z, H[sample_idx])`` with a fresh ``z`` (LMA spec 2.6),
    clamped to [-1, 1] and quantised to uint8 as
    ``round((x + 1) * 127.5)``, in the layout of the incoming image:
    ``(R, R)`` for a 2-D grey image, ``(R, R, C)`` otherwise, with the
    colour channels in ``channel_order``. The size is the generator's (or
    ``center_crop``): later crops resize it like a real image (spec A10).
    ``results['lma_applied']`` tells whether the image was replaced
    (``MultiView`` keeps only ``img`` of each view).

    Put it first in each view pipeline of ``MultiView`` (Algorithm 1):
    every view draws its own Bernoulli and its own ``z``. Placed before
    ``MultiView``, both views share one generated image ("SimSiam-mix",
    spec A18).

    The generator (:class:`~mmmix.models.utils.LMASampler`) is built at the
    first call in each process (never with ``prob=0``), so configs stay
    light and each dataloader worker owns its copy. Run it on ``'cpu'``
    inside forked workers (CUDA cannot be initialised in a forked process).

    Args:
        prob (float): probability of replacing the image, in [0, 1].
        generator (dict | nn.Module): generator config (``MODELS``) or
            module, see :class:`~mmmix.models.utils.LMASampler`.
        checkpoint (str, optional): GAN checkpoint; the weights under
            ``prefix`` are loaded strictly.
        bank (str | FeatureBank, optional): feature bank folder (or bank)
            of the training set, rows in ``sample_idx`` order.
        prefix (str): generator key prefix in the checkpoint. Defaults to
            ``'generator_ema.'``.
        z_pool_size (int, optional): finite-view ablation (Table 5): ``z``
            uniform over one global pool of this many latents.
        z_pool_seed (int): seed of that pool. Defaults to 0.
        truncation (float): truncation psi, 1 = none. Defaults to 1.
        noise_mode (str, optional): generator noise; ``None`` = ``'random'``
            (``'const'`` with ``z_pool_size``).
        center_crop (int, optional): keep the central ``c x c`` pixels
            (e.g. 28 for a 32-pixel Fashion-MNIST generator).
        channel_order (str): channel order of the pipeline's colour images,
            ``'rgb'`` (mmpretrain's CIFAR arrays) or ``'bgr'`` (images
            loaded from files). The generator's output is taken as RGB.
            Defaults to ``'rgb'``.
        device (str): where the generator runs. Defaults to ``'cpu'``.
        key (str): results key of the sample index. Defaults to
            ``'sample_idx'``.
        expected_num_samples (int, optional): the dataset length; the
            bank's row count must equal it (checked at the first build).
        seed (int, optional): seed of the draws (see module doc); ``None``
            uses torch's RNG, seeded per worker by the DataLoader.
    """

    def __init__(self,
                 prob: float,
                 generator: Union[dict, torch.nn.Module],
                 checkpoint: Optional[str] = None,
                 bank=None,
                 prefix: str = 'generator_ema.',
                 z_pool_size: Optional[int] = None,
                 z_pool_seed: int = 0,
                 truncation: float = 1.0,
                 noise_mode: Optional[str] = None,
                 center_crop: Optional[int] = None,
                 channel_order: str = 'rgb',
                 device: str = 'cpu',
                 key: str = 'sample_idx',
                 expected_num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        self.prob = _check_prob(prob)
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}'
                             f', got {channel_order!r}')
        self.sampler_cfg = dict(
            generator=generator, checkpoint=checkpoint, bank=bank,
            prefix=prefix, z_pool_size=z_pool_size, z_pool_seed=z_pool_seed,
            truncation=truncation, noise_mode=noise_mode,
            center_crop=center_crop, device=device)
        self.channel_order = channel_order
        self.key = key
        self.expected_num_samples = expected_num_samples
        self._sampler = None
        self._init_random(seed)

    @property
    def sampler(self):
        """The :class:`~mmmix.models.utils.LMASampler` (built on first
        use)."""
        if self._sampler is None:
            from mmmix.models.utils.lma_sampler import LMASampler
            sampler = LMASampler(**self.sampler_cfg)
            if sampler.bank is not None:
                _check_expected(self.expected_num_samples, len(sampler.bank),
                                'the LMA feature bank')
            self._sampler = sampler
        return self._sampler

    def check_dataset(self, dataset) -> None:
        """Check the feature bank against ``dataset``'s fingerprint."""
        from ..feature_bank import verify_bank
        verify_bank(self.sampler_cfg['bank'], dataset)

    def transform(self, results: dict) -> dict:
        idx = _sample_index(results, self.key, type(self).__name__)
        if self._process_changed():
            self._reset_random()
        if self.prob == 0:
            results['lma_applied'] = False
            return results
        sampler = self.sampler  # built at the first call in each process
        if self._uniform() >= self.prob:
            results['lma_applied'] = False
            return results
        img = results.get('img')
        if not isinstance(img, np.ndarray):
            raise TypeError('LocalManifoldAugment expects results["img"] to '
                            f'be a numpy image, got {type(img).__name__}')
        channels = sampler.out_shape[0]
        if channels != _channels(img):
            raise ValueError(
                f'the generator makes {channels}-channel images but '
                f'results["img"] has shape {img.shape} '
                f'({_channels(img)} channels)')
        out = to_uint8(sampler.sample([idx], generator=self._rng))[0]
        if img.ndim == 2:
            out = out[..., 0]
        elif channels == 3 and self.channel_order == 'bgr':
            out = np.ascontiguousarray(out[..., ::-1])
        results['img'] = out
        results['img_shape'] = out.shape[:2]
        results['lma_applied'] = True
        return results

    def __getstate__(self):
        state = super().__getstate__()
        state['_sampler'] = None  # rebuilt in the receiving process
        return state

    def __repr__(self) -> str:
        cfg = self.sampler_cfg
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'checkpoint={cfg["checkpoint"]!r}, bank={cfg["bank"]!r}, '
                f'z_pool_size={cfg["z_pool_size"]}, '
                f'truncation={cfg["truncation"]}, '
                f'channel_order={self.channel_order!r})')


@TRANSFORMS.register_module()
class LatentTraversalAugment(_PerProcessRandom, BaseTransform):
    """Latent traversal of the image's inverted code: with probability
    ``prob`` replace ``results['img']`` by ``g(truncate(w_i + eps))``.

    ``w_i`` is the W+ code of the sample from a GAN inversion
    (``tools/learned_views/invert_dataset.py`` stores it in a
    :class:`~mmmix.datasets.ViewCache` with latents), ``eps`` a fresh
    W-perturb noise per call (:func:`mmmix.ops.latent_views.w_perturb`,
    ``sigma`` a standard deviation, ``'gauss'`` or ``'proj'``), ``g`` the
    unconditional generator's synthesis with constant noise. It is the
    StyleGAN2-traversal baseline of the LMA paper's Table 4 (Eq. 4 made
    applicable to real images through inversion, LMA spec A16) and the
    on-the-fly W-perturb of the learned-views paper's Table 6 (a new view
    every step instead of one of ``n`` cached ones). Output layout and
    dtype as :class:`LocalManifoldAugment`.

    Args:
        prob (float): probability of replacing the image, in [0, 1].
        generator (dict | nn.Module): the unconditional generator (config
            or module).
        checkpoint (str, optional): GAN checkpoint, weights under
            ``prefix`` loaded strictly.
        latents (str): folder of the inversion (a ViewCache with
            ``latents.npy``), rows in ``sample_idx`` order.
        prefix (str): Defaults to ``'generator_ema.'``.
        sigma (float): noise std, >= 0. Defaults to 0.2 (the papers').
        mode (str): ``'gauss'`` or ``'proj'``. Defaults to ``'gauss'``.
        truncation (float, optional): psi applied after the noise;
            ``None`` = the value the latents were inverted with (their
            meta), else 1.
        noise_mode (str): the synthesis noise. Defaults to ``'const'``.
        center_crop (int, optional): keep the central ``c x c`` pixels.
        channel_order (str): ``'rgb'`` or ``'bgr'`` (as
            :class:`LocalManifoldAugment`). Defaults to ``'rgb'``.
        key (str): Defaults to ``'sample_idx'``.
        expected_num_samples (int, optional): the dataset length.
        seed (int, optional): as :class:`LocalManifoldAugment`.
    """

    def __init__(self,
                 prob: float,
                 generator: Union[dict, torch.nn.Module],
                 latents: str,
                 checkpoint: Optional[str] = None,
                 prefix: str = 'generator_ema.',
                 sigma: float = 0.2,
                 mode: str = 'gauss',
                 truncation: Optional[float] = None,
                 noise_mode: str = 'const',
                 center_crop: Optional[int] = None,
                 channel_order: str = 'rgb',
                 key: str = 'sample_idx',
                 expected_num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        from mmmix.ops.latent_views import PERTURB_MODES
        self.prob = _check_prob(prob)
        if sigma < 0:
            raise ValueError(f'sigma must be >= 0, got {sigma}')
        if mode not in PERTURB_MODES:
            raise ValueError(f'mode must be one of {PERTURB_MODES}, got '
                             f'{mode!r}')
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}'
                             f', got {channel_order!r}')
        self.generator_cfg = generator
        self.checkpoint = checkpoint
        self.latents = latents
        self.prefix = prefix
        self.sigma = float(sigma)
        self.mode = mode
        self.truncation = truncation
        self.noise_mode = noise_mode
        self.center_crop = center_crop
        self.channel_order = channel_order
        self.key = key
        self.expected_num_samples = expected_num_samples
        self._state = None
        self._init_random(seed)

    def _build(self):
        if self._state is None:
            from mmmix.models.utils.lma_sampler import load_prefixed_state_dict
            from mmmix.registry import MODELS
            cache = ViewCache.open(self.latents)
            if cache.latents is None:
                raise ValueError(f'{self.latents} holds no latents.npy: '
                                 'invert the dataset first')
            _check_expected(self.expected_num_samples, cache.num_samples,
                            'the inverted latents')
            gen = self.generator_cfg
            if isinstance(gen, dict):
                gen = MODELS.build(copy.deepcopy(gen))
            if self.checkpoint is not None:
                load_prefixed_state_dict(gen, self.checkpoint, self.prefix)
            gen.eval().requires_grad_(False)
            if tuple(cache.latents.shape[1:]) != (gen.num_ws, gen.w_dim):
                raise ValueError(
                    f'latents of shape {cache.latents.shape[1:]} do not fit '
                    f'the generator (num_ws, w_dim) = '
                    f'{(gen.num_ws, gen.w_dim)}')
            psi = self.truncation
            if psi is None:
                psi = float(cache.meta.get('truncation', 1.0))
            self._state = (gen, cache, psi)
        return self._state

    def check_dataset(self, dataset) -> None:
        """Check the inverted latents against ``dataset``'s fingerprint."""
        ViewCache.open(self.latents, dataset=dataset)

    def transform(self, results: dict) -> dict:
        from mmmix.models.generators.gan import center_pad_or_crop
        from mmmix.ops.latent_views import truncate, w_perturb
        idx = _sample_index(results, self.key, type(self).__name__)
        if self._process_changed():
            self._reset_random()
        results['traversal_applied'] = False
        if self.prob == 0 or self._uniform() >= self.prob:
            return results
        gen, cache, psi = self._build()
        if not 0 <= idx < cache.num_samples:
            raise IndexError(f'{self.key} {idx} out of the latents range '
                             f'[0, {cache.num_samples})')
        img = results.get('img')
        if not isinstance(img, np.ndarray) or _channels(
                img) != gen.img_channels:
            raise ValueError(
                f'the generator makes {gen.img_channels}-channel images, '
                f'results["img"] is {getattr(img, "shape", type(img))}')
        w = torch.from_numpy(np.array(cache.latents[idx:idx + 1]))
        with torch.no_grad():
            w = w_perturb(w, self.sigma, self.mode, generator=self._rng)
            x = gen.synthesis(truncate(w, gen.w_avg, psi),
                              noise_mode=self.noise_mode).clamp(-1, 1)
        if self.center_crop is not None:
            x = center_pad_or_crop(x, self.center_crop)
        out = to_uint8(x)[0]
        if img.ndim == 2:
            out = out[..., 0]
        elif out.shape[-1] == 3 and self.channel_order == 'bgr':
            out = np.ascontiguousarray(out[..., ::-1])
        results['img'] = out
        results['img_shape'] = out.shape[:2]
        results['traversal_applied'] = True
        return results

    def __getstate__(self):
        state = super().__getstate__()
        state['_state'] = None
        return state

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, sigma='
                f'{self.sigma}, mode={self.mode!r}, latents={self.latents!r}'
                f', checkpoint={self.checkpoint!r})')


@TRANSFORMS.register_module()
class LoadGeneratedView(_PerProcessRandom, BaseTransform):
    """Replace the image by a cached generated view of the same sample.

    The view slot is drawn uniformly among the first ``num_use`` slots of
    the :class:`~mmmix.datasets.ViewCache` (assimilating-views spec 4.6:
    ``#Cache = m`` uses ``views[:m]``), or among those and the real image
    with ``include_original``. ``results['generated_view_slot']`` records
    the slot (-1 for the real image). Used as the first op of the generated
    branch of ``MultiView`` (A1/A2 pipelines).

    The cache's image layout must equal the incoming image's (same
    ``(H, W)`` or ``(H, W, C)``).

    Args:
        cache (str): the cache folder.
        num_use (int, optional): use only the first ``num_use`` slots,
            ``1 <= num_use <= num_views``; all by default.
        include_original (bool): the real image is one more candidate.
            Defaults to False (the reference default).
        key (str): results key of the sample index. Defaults to
            ``'sample_idx'``.
        channel_order (str, optional): the pipeline's channel order; colour
            views are flipped when it differs from the cache's. ``None``
            (default) returns them as stored.
        expected_num_samples (int, optional): the dataset length; the cache
            must have that many rows (checked at the first call).
        seed (int, optional): seed of the draws (see module doc).
    """

    def __init__(self,
                 cache: str,
                 num_use: Optional[int] = None,
                 include_original: bool = False,
                 key: str = 'sample_idx',
                 channel_order: Optional[str] = None,
                 expected_num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        if num_use is not None and (not isinstance(num_use, Integral)
                                    or isinstance(num_use, bool)
                                    or num_use < 1):
            raise ValueError(f'num_use must be None or an int >= 1, got '
                             f'{num_use!r}')
        if channel_order is not None and channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be None or one of '
                             f'{CHANNEL_ORDERS}, got {channel_order!r}')
        self.cache_path = cache
        self.num_use = num_use
        self.include_original = bool(include_original)
        self.key = key
        self.channel_order = channel_order
        self.expected_num_samples = expected_num_samples
        self._cache = None
        self._init_random(seed)

    @property
    def cache(self) -> ViewCache:
        if self._cache is None:
            cache = ViewCache.open(self.cache_path)
            _check_expected(self.expected_num_samples, cache.num_samples,
                            f'view cache {self.cache_path}')
            if self.num_use is not None and self.num_use > cache.num_views:
                raise ValueError(f'num_use={self.num_use} but the cache has '
                                 f'{cache.num_views} views; num_use must be '
                                 f'in [1, {cache.num_views}]')
            self._cache = cache
        return self._cache

    def check_dataset(self, dataset) -> None:
        """Check the cache against ``dataset``'s fingerprint."""
        ViewCache.open(self.cache_path, dataset=dataset)

    def transform(self, results: dict) -> dict:
        idx = _sample_index(results, self.key, type(self).__name__)
        if self._process_changed():
            self._reset_random()
        cache = self.cache
        img = results.get('img')
        if isinstance(img, np.ndarray) and img.shape != cache.sample_shape:
            raise ValueError(
                f'view cache {self.cache_path} stores images of shape '
                f'{cache.sample_shape} but results["img"] has shape '
                f'{img.shape}')
        num_use = self.num_use or cache.num_views
        pick = self._randint(num_use + int(self.include_original))
        if pick == num_use:  # the real image
            as_index_array(idx, cache.num_samples, 'sample index')
            results['generated_view_slot'] = -1
            return results
        view = cache.get(pick, idx)
        if (self.channel_order is not None and view.ndim == 3
                and view.shape[2] == 3
                and self.channel_order != cache.meta.get('channel_order')):
            view = np.ascontiguousarray(view[..., ::-1])
        results['img'] = view
        results['img_shape'] = view.shape[:2]
        results['generated_view_slot'] = pick
        return results

    def __getstate__(self):
        state = super().__getstate__()
        state['_cache'] = None
        return state

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(cache={self.cache_path!r}, '
                f'num_use={self.num_use}, '
                f'include_original={self.include_original})')


@TRANSFORMS.register_module()
class KNNReplace(_PerProcessRandom, BaseTransform):
    """Replace the image with prob ``prob`` by a random k-NN neighbour.

    The LMA paper's kNN baseline (Eq. 3, Table 4): the neighbour is drawn
    uniformly from row ``sample_idx`` of a kNN graph (self excluded, e.g.
    from ``tools/lma/build_knn.py``), and its raw image is read from an
    ``(N, ...)`` uint8 array written by
    :func:`mmmix.datasets.fingerprint.save_raw_images`
    (``tools/lma/extract_features.py --save-images``): neighbours are read
    without running the dataset. ``results['knn_neighbor']`` records the
    neighbour (-1 when not replaced).

    Args:
        prob (float): replacement probability in [0, 1].
        knn_file (str): ``(N, k)`` integer ``.npy`` graph.
        images_file (str): ``(N, *img_shape)`` uint8 ``.npy`` raw images.
        key (str): results key of the sample index. Defaults to
            ``'sample_idx'``.
        expected_num_samples (int, optional): the dataset length (checked
            at the first call).
        seed (int, optional): seed of the draws (see module doc).
    """

    def __init__(self,
                 prob: float,
                 knn_file: str,
                 images_file: str,
                 key: str = 'sample_idx',
                 expected_num_samples: Optional[int] = None,
                 seed: Optional[int] = None):
        self.prob = _check_prob(prob)
        self.knn_file = knn_file
        self.images_file = images_file
        self.key = key
        self.expected_num_samples = expected_num_samples
        self._arrays = None
        self._init_random(seed)

    @property
    def arrays(self) -> tuple:
        """``(knn (N, k), images (N, ...))``, memory-mapped."""
        if self._arrays is None:
            knn = np.load(self.knn_file, mmap_mode='r')
            images = np.load(self.images_file, mmap_mode='r')
            if knn.ndim != 2 or not np.issubdtype(knn.dtype, np.integer):
                raise ValueError(f'{self.knn_file} must be an (N, k) integer '
                                 f'array, got {knn.dtype} {knn.shape}')
            if images.dtype != np.uint8 or len(images) != len(knn):
                raise ValueError(
                    f'{self.images_file} must be (N={len(knn)}, ...) uint8 '
                    f'to match {self.knn_file}, got {images.dtype} '
                    f'{images.shape}')
            n = len(knn)
            _check_expected(self.expected_num_samples, n,
                            f'kNN graph {self.knn_file}')
            full = np.asarray(knn)
            if full.min() < 0 or full.max() >= n:
                raise ValueError(f'{self.knn_file} has neighbour indices '
                                 f'outside [0, {n})')
            if (full == np.arange(n)[:, None]).any():
                row = int(np.flatnonzero(
                    (full == np.arange(n)[:, None]).any(1))[0])
                raise ValueError(f'{self.knn_file}: row {row} lists itself; '
                                 'the graph must exclude self')
            self._arrays = (knn, images)
        return self._arrays

    def check_dataset(self, dataset) -> None:
        """Check the graph's rows and the saved images against
        ``dataset``: same length and equal raw images at the fingerprint
        positions."""
        from ..fingerprint import check_indices, raw_image
        knn, images = self.arrays
        if len(dataset) != len(knn):
            raise ValueError(f'the dataset has {len(dataset)} samples, the '
                             f'kNN graph {len(knn)} rows')
        for i in check_indices(len(dataset)):
            if not np.array_equal(raw_image(dataset, i), images[i]):
                raise ValueError(f'{self.images_file}: image {i} differs '
                                 "from the dataset's raw image")

    def transform(self, results: dict) -> dict:
        idx = _sample_index(results, self.key, type(self).__name__)
        if self._process_changed():
            self._reset_random()
        if self.prob == 0:
            results['knn_neighbor'] = -1
            return results
        knn, images = self.arrays  # opened at the first call
        if self._uniform() >= self.prob:
            results['knn_neighbor'] = -1
            return results
        i = int(as_index_array(idx, len(knn), 'sample index'))
        j = int(knn[i, self._randint(knn.shape[1])])
        img = np.array(images[j])
        old = results.get('img')
        if isinstance(old, np.ndarray) and old.shape != img.shape:
            raise ValueError(f'{self.images_file} stores images of shape '
                             f'{img.shape} but results["img"] has shape '
                             f'{old.shape}')
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['knn_neighbor'] = j
        return results

    def __getstate__(self):
        state = super().__getstate__()
        state['_arrays'] = None
        return state

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(prob={self.prob}, '
                f'knn_file={self.knn_file!r}, '
                f'images_file={self.images_file!r})')


GENERATED_VIEW_TRANSFORMS = (LocalManifoldAugment, LoadGeneratedView,
                             KNNReplace, LatentTraversalAugment)


def _walk(node, found: list, seen: set, parent=None, position=0) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, GENERATED_VIEW_TRANSFORMS):
        found.append((node, parent, position))
        return
    if isinstance(node, (list, tuple)):
        for pos, child in enumerate(node):
            _walk(child, found, seen, node, pos)
        return
    for attr in ('pipeline', 'pipelines', 'transforms'):
        child = getattr(node, attr, None)
        if isinstance(child, (list, tuple)):
            _walk(child, found, seen, parent, position)
        elif child is not None and child is not node and not isinstance(
                child, (str, bytes, dict)):
            _walk(child, found, seen, parent, position)


def check_generated_view_sources(dataset) -> List[BaseTransform]:
    """Check every generated-view transform of ``dataset``'s pipeline.

    Walks the pipeline (through ``Compose``, ``MultiView``, ``RandomApply``
    and other wrappers that keep ``transforms`` / ``pipelines``), checks
    each :class:`LocalManifoldAugment`, :class:`LoadGeneratedView` and
    :class:`KNNReplace` source against the dataset's fingerprint, and warns
    when one is not first in its pipeline (only ``Load*`` transforms may
    precede it): the spec applies them to the clean image.

    Dataset wrappers that keep the inner dataset's ``sample_idx``
    (mmengine's ``RepeatDataset`` and ``ClassBalancedDataset``: the
    transforms run in the inner dataset's pipeline and see its indices) are
    unwrapped and the inner dataset is checked. A ``ConcatDataset`` whose
    members use generated views is refused: each member numbers its samples
    from 0, so one bank or cache cannot be indexed by ``sample_idx`` (LMA
    spec A24); build one dataset covering all the images instead.

    Returns:
        list: the transforms found.

    Raises:
        ValueError: a source does not match the dataset, or generated views
            under a ``ConcatDataset``.
    """
    members = getattr(dataset, 'datasets', None)
    if members is not None and not hasattr(dataset, 'pipeline'):
        for member in members:
            if check_generated_view_sources(member):
                raise ValueError(
                    f'{type(dataset).__name__} concatenates datasets that '
                    'number their samples from 0 each: a feature bank or '
                    'view cache indexed by sample_idx would mix them up; '
                    'use one dataset covering all the images')
        return []
    inner = getattr(dataset, 'dataset', None)
    if inner is not None and not hasattr(dataset, 'pipeline'):
        return check_generated_view_sources(inner)  # Repeat / ClassBalanced
    found = []
    _walk(getattr(dataset, 'pipeline', None), found, set())
    for transform, parent, position in found:
        before = list(parent[:position]) if parent is not None else []
        late = [type(t).__name__ for t in before
                if not type(t).__name__.startswith('Load')]
        if late:
            warnings.warn(f'{type(transform).__name__} comes after {late} in '
                          'its pipeline; it should see the clean image, '
                          'first in each view pipeline')
        transform.check_dataset(dataset)
    return [t for t, _, _ in found]
