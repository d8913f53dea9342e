"""Batched, model-side LMA: generated views made in the data preprocessor.

LMA spec U8: instead of running the generator once per view inside the
dataloader workers (:class:`~mmmix.datasets.transforms.LocalManifoldAugment`
first in each view pipeline), the data pipeline makes the usual
hand-crafted views of the real images and this preprocessor, on the
model's device, replaces each view independently with probability ``prob``
by a freshly generated one, augmented with the same hand-crafted
augmentation (HCA) as tensors (:mod:`mmmix.ops.tensor_augment`).
"""
import copy
from numbers import Integral, Real
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor

from mmmix.ops.tensor_augment import build_view_pipeline, quantize
from mmmix.registry import MODELS

CHANNEL_ORDERS = ('rgb', 'bgr')


def _check_prob(prob) -> float:
    if (not isinstance(prob, Real) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f'prob must be a number in [0, 1], got {prob!r}')
    return float(prob)


@MODELS.register_module()
class LMASelfSupDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that applies LMA to the views in a batch.

    In training, for every view ``v`` and sample ``b`` of the batch an
    independent Bernoulli(``prob``) decides whether the view is replaced.
    All replaced views of the batch come from ONE generator call
    ``G_ema(z, H[sample_idx])`` with a fresh ``z`` each (``sample_idx`` from
    the data samples' metainfo); the output, clamped and quantised like
    :class:`~mmmix.datasets.transforms.LocalManifoldAugment`
    (``round((x + 1) * 127.5)``), goes through ``view_pipeline`` as tensors
    (per-image random parameters), is rounded and clamped to 0-255 like a
    uint8 view and written over the view, before the colour conversion and
    normalisation of the parent class. Outside training, or with
    ``prob=0``, it is ``SelfSupDataPreprocessor``.

    Equivalence: when ``view_pipeline`` is the HCA of the data pipeline's
    views, this draws views from the same distribution as putting
    ``LocalManifoldAugment(prob)`` first in each view pipeline (Algorithm 1
    of LMA: per-view Bernoulli, per-view ``z``, HCA on every view). The
    differences:

    - the pipeline still computes the real-image view of every
      (sample, view) pair; for the replaced ones (a fraction ``prob``) it is
      discarded here;
    - the HCA runs in float and the resize is a bilinear matrix product
      (cv2 quantises after each transform and uses fixed-point weights):
      values differ by less than one grey level per transform;
    - randomness comes from torch (the Bernoulli draws and ``z`` on the
      host, the HCA parameters and the generator's noise on the device),
      not numpy: the same distributions, not the same draws;
    - metainfo the pipeline wrote about a view (``img_shape``, flips,
      ``lma_applied``) describes the discarded real view.

    The Bernoulli draws, the indices and ``z`` are made on the host, so the
    number of generated views is known without reading anything back from
    the device: nothing is synchronised and nothing is logged per step.
    ``last_replaced_fraction`` (the last batch) and ``num_replaced_views``
    / ``num_views_seen`` (running totals) are plain attributes for a hook
    to read.

    The generator (an :class:`~mmmix.models.utils.LMASampler`) is built at
    the first training call with ``prob > 0`` and moved to the inputs'
    device. It is not a submodule: it is frozen, it is not saved in the
    model's checkpoints, and optimisers never see it.

    Args:
        prob (float): probability α of replacing a view, in [0, 1].
        generator (dict | nn.Module): generator config (``MODELS``) or
            module, see :class:`~mmmix.models.utils.LMASampler`.
        view_pipeline (list): the HCA applied to the generated views:
            mmpretrain transform configs supported by
            :func:`mmmix.ops.tensor_augment.apply_view_pipeline` (shared by
            all views), or a list of such lists, one per view (asymmetric
            pipelines, e.g. BYOL). Defaults to ``()`` (no HCA: the
            generated image must then have the view's size).
        checkpoint (str, optional): GAN checkpoint; the weights under
            ``prefix`` are loaded strictly.
        bank (str | FeatureBank, optional): feature bank of the training
            set, rows in ``sample_idx`` order.
        prefix (str): generator key prefix in the checkpoint. Defaults to
            ``'generator_ema.'``.
        z_pool_size (int, optional): finite-view ablation: ``z`` uniform
            over one global pool of this many latents.
        z_pool_seed (int): seed of that pool. Defaults to 0.
        truncation (float): truncation psi, 1 = none. Defaults to 1.
        noise_mode (str, optional): generator noise; ``None`` = ``'random'``
            (``'const'`` with ``z_pool_size``).
        center_crop (int, optional): keep the central ``c x c`` pixels of
            the generated images (e.g. 28 for a 32-pixel Fashion-MNIST
            generator).
        channel_order (str): channel order of the pipeline's colour views,
            ``'rgb'`` or ``'bgr'``; the generator's output is RGB. Defaults
            to ``'rgb'``.
        key (str): metainfo key of the sample index. Defaults to
            ``'sample_idx'``.
        expected_num_samples (int, optional): the dataset length; the
            bank's row count must equal it.
        seed (int, optional): seed of the draws (combined with the
            distributed rank); ``None`` uses torch's global RNGs.
        mean (Sequence[float], optional): per-channel mean of the 0-255
            pixels. Defaults to None (no normalisation).
        std (Sequence[float], optional): per-channel std. Defaults to None.
        pad_size_divisor (int): unused, as in the parent. Defaults to 1.
        pad_value (float | int): unused. Defaults to 0.
        to_rgb (bool): swap BGR and RGB. Defaults to False.
        bgr_to_rgb (bool): same as ``to_rgb``. Defaults to False.
        rgb_to_bgr (bool): same as ``to_rgb``. Defaults to False.
        non_blocking (bool): non-blocking host-to-device copies. Defaults
            to False.
    """

    def __init__(self,
                 prob: float,
                 generator: Union[dict, torch.nn.Module],
                 view_pipeline: Sequence = (),
                 checkpoint: Optional[str] = None,
                 bank=None,
                 prefix: str = 'generator_ema.',
                 z_pool_size: Optional[int] = None,
                 z_pool_seed: int = 0,
                 truncation: float = 1.0,
                 noise_mode: Optional[str] = None,
                 center_crop: Optional[int] = None,
                 channel_order: str = 'rgb',
                 key: str = 'sample_idx',
                 expected_num_samples: Optional[int] = None,
                 seed: Optional[int] = None,
                 mean: Optional[Sequence[Union[float, int]]] = None,
                 std: Optional[Sequence[Union[float, int]]] = None,
                 pad_size_divisor: int = 1,
                 pad_value: Union[float, int] = 0,
                 to_rgb: bool = False,
                 bgr_to_rgb: bool = False,
                 rgb_to_bgr: bool = False,
                 non_blocking: Optional[bool] = False):
        super().__init__(
            mean=mean,
            std=std,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            to_rgb=to_rgb,
            bgr_to_rgb=bgr_to_rgb,
            rgb_to_bgr=rgb_to_bgr,
            non_blocking=non_blocking)
        self.prob = _check_prob(prob)
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError(f'channel_order must be one of {CHANNEL_ORDERS}'
                             f', got {channel_order!r}')
        if seed is not None and (not isinstance(seed, Integral)
                                 or isinstance(seed, bool)):
            raise ValueError(f'seed must be None or an int, got {seed!r}')
        pipes = list(view_pipeline or [])
        self.per_view = bool(pipes) and all(
            isinstance(p, (list, tuple)) for p in pipes)
        self.view_pipeline = (
            [copy.deepcopy(list(p)) for p in pipes] if self.per_view else
            copy.deepcopy(pipes))
        self._check_pipelines()
        self.sampler_cfg = dict(
            generator=generator, checkpoint=checkpoint, bank=bank,
            prefix=prefix, z_pool_size=z_pool_size, z_pool_seed=z_pool_seed,
            truncation=truncation, noise_mode=noise_mode,
            center_crop=center_crop)
        self.channel_order = channel_order
        self.key = key
        self.expected_num_samples = expected_num_samples
        self.seed = seed
        self._reset_state()
        self.last_replaced_fraction = 0.0
        self.num_replaced_views = 0
        self.num_views_seen = 0

    # ------------------------------------------------------------- state
    def _check_pipelines(self) -> None:
        pipes = self.view_pipeline if self.per_view else [self.view_pipeline]
        for pipe in pipes:
            build_view_pipeline(pipe)  # raises naming what is unsupported

    def _reset_state(self) -> None:
        self._sampler = None
        self._sampler_device = None
        self._ops = None
        self._host_rng = None
        self._device_rngs = {}
        self._rng_ready = False

    def __getstate__(self):
        state = super().__getstate__()
        state = dict(state)
        for name in ('_sampler', '_sampler_device', '_ops', '_host_rng'):
            state[name] = None
        state['_device_rngs'] = {}
        state['_rng_ready'] = False
        return state

    def _view_ops(self, num_views: int) -> List[list]:
        if self._ops is None:
            if self.per_view:
                self._ops = [build_view_pipeline(p)
                             for p in self.view_pipeline]
            else:
                self._ops = build_view_pipeline(self.view_pipeline)
        if not self.per_view:
            return [self._ops] * num_views
        if len(self._ops) != num_views:
            raise ValueError(f'view_pipeline has {len(self._ops)} per-view '
                             f'pipelines but the batch has {num_views} '
                             'views')
        return self._ops

    def _seed_for(self, stream: int) -> int:
        from mmengine.dist import get_rank
        state = np.random.SeedSequence(
            [int(self.seed), int(get_rank()), stream]).generate_state(2)
        return (int(state[0]) << 32 | int(state[1])) % 2**63

    def _rngs(self, device: torch.device):
        """``(host generator, device generator)``; ``None`` for torch's
        global RNGs when ``seed`` is None."""
        if self.seed is None:
            return None, None
        if self._host_rng is None:
            self._host_rng = torch.Generator().manual_seed(self._seed_for(0))
        key = str(device)
        if key not in self._device_rngs:
            self._device_rngs[key] = torch.Generator(
                device=device).manual_seed(self._seed_for(1))
        return self._host_rng, self._device_rngs[key]

    @property
    def sampler(self):
        """The :class:`~mmmix.models.utils.LMASampler` (built on first
        use)."""
        if self._sampler is None:
            from .lma_sampler import LMASampler
            sampler = LMASampler(**self.sampler_cfg, device='cpu')
            if (sampler.bank is not None
                    and self.expected_num_samples is not None
                    and len(sampler.bank) != int(self.expected_num_samples)):
                raise ValueError(
                    f'the LMA feature bank has {len(sampler.bank)} rows but '
                    f'expected_num_samples={self.expected_num_samples} (the '
                    'dataset length): it was built for another dataset or '
                    'subset')
            self._sampler = sampler
            self._sampler_device = torch.device('cpu')
        return self._sampler

    def check_dataset(self, dataset) -> None:
        """Check the feature bank against ``dataset``'s fingerprint."""
        from mmmix.datasets.feature_bank import verify_bank
        verify_bank(self.sampler_cfg['bank'], dataset)

    # ------------------------------------------------------------ forward
    def _indices(self, data_samples) -> torch.Tensor:
        if data_samples is None:
            raise KeyError(
                f'{type(self).__name__} needs the metainfo key {self.key!r} '
                '(the index of each sample in the dataset) but the batch has '
                'no data_samples')
        idx = []
        for i, sample in enumerate(data_samples):
            meta = getattr(sample, 'metainfo', None) or {}
            if self.key not in meta:
                raise KeyError(
                    f'{type(self).__name__} needs metainfo[{self.key!r}], '
                    f'the dataset index of each sample; data sample {i} has '
                    f'only {sorted(meta)} (PackInputs keeps "sample_idx" in '
                    'its default meta_keys)')
            value = meta[self.key]
            if isinstance(value, (np.ndarray, torch.Tensor)):
                value = value.item()
            if not isinstance(value, Integral) or isinstance(value, bool):
                raise TypeError(f'metainfo[{self.key!r}] must be an int, got '
                                f'{value!r}')
            idx.append(int(value))
        return torch.tensor(idx, dtype=torch.long)

    def _convert(self, x: torch.Tensor) -> torch.Tensor:
        if self._channel_conversion:
            x = x[:, [2, 1, 0], ...]
        y = x.float()
        return y.clone() if y is x else y  # views are written in place

    @torch.no_grad()
    def generate(self, indices: torch.Tensor, device,
                 host_rng: Optional[torch.Generator] = None) -> torch.Tensor:
        """Generated images of samples ``indices`` (a CPU ``LongTensor``)
        in one generator call on ``device``: ``(n, C, R', R')`` floats in
        0-255, rounded (the uint8 values of ``LocalManifoldAugment``),
        RGB."""
        sampler = self.sampler
        device = torch.device(device)
        if self._sampler_device != device:
            sampler.generator.to(device)
            sampler.device = device
            self._sampler_device = device
        n = len(indices)
        z = sampler.draw_z(n, host_rng).to(device, non_blocking=True)
        cond = None
        if sampler.bank is not None:
            cond = sampler.bank[indices].to(device, non_blocking=True)
        out = sampler.generator(z, cond, truncation_psi=sampler.truncation,
                                noise_mode=sampler.noise_mode)
        if sampler.center_crop is not None:
            res, c = out.shape[-1], sampler.center_crop
            top = (res - c) // 2
            out = out[..., top:top + c, top:top + c]
        return ((out.float().clamp(-1, 1) + 1) * 127.5).round()

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast, replace views by generated ones (training), swap colours
        and normalise.

        Args:
            data (dict): a batch from ``default_collate``: ``inputs`` is a
                list of views ``(B, C, H, W)`` (or one tensor) and
                ``data_samples`` carry ``metainfo[key]``.
            training (bool): LMA runs only in training.

        Returns:
            dict: ``inputs`` (normalised float views, in the structure
            given) and ``data_samples``.
        """
        if not training or self.prob == 0:
            return super().forward(data, training)
        if not isinstance(data, dict):
            raise TypeError(f'{type(self).__name__} expects the dict of '
                            'default_collate')
        data = self.cast_data(data)
        inputs = data['inputs']
        samples = data.get('data_samples')
        is_list = isinstance(inputs, (list, tuple))
        views = [self._convert(x) for x in (inputs if is_list else [inputs])]
        indices = self._indices(samples)
        num_views, bsz = len(views), len(indices)
        for v, x in enumerate(views):
            if x.dim() != 4 or x.shape[0] != bsz:
                raise ValueError(f'view {v} has shape {tuple(x.shape)}; '
                                 f'expected (B={bsz}, C, H, W)')
        ops = self._view_ops(num_views)
        device = views[0].device
        host_rng, dev_rng = self._rngs(device)
        flags = torch.rand((num_views, bsz), generator=host_rng) < self.prob
        pick = flags.nonzero()  # on the host: no device sync
        count = len(pick)
        self.last_replaced_fraction = count / max(num_views * bsz, 1)
        self.num_replaced_views += count
        self.num_views_seen += num_views * bsz
        if count:
            gen = self.generate(indices[pick[:, 1]], device, host_rng)
            if gen.shape[1] == 3 and self.channel_order == 'bgr':
                gen = gen.flip(1)
            for v, x in enumerate(views):
                sel = (pick[:, 0] == v).nonzero()[:, 0]
                if not len(sel):
                    continue
                if gen.shape[1] != x.shape[1]:
                    raise ValueError(
                        f'the generator makes {gen.shape[1]}-channel images '
                        f'but view {v} has {x.shape[1]} channels')
                sub = gen.index_select(0, sel.to(device, non_blocking=True))
                for op in ops[v]:
                    sub = op(sub, dev_rng)
                if sub.shape[1:] != x.shape[1:]:
                    raise ValueError(
                        f'generated views come out of view_pipeline with '
                        f'shape {tuple(sub.shape[1:])} but view {v} has '
                        f'{tuple(x.shape[1:])}: view_pipeline must end at '
                        "the views' size (e.g. with its RandomResizedCrop)")
                sub = quantize(sub)
                if self._channel_conversion:
                    sub = sub[:, [2, 1, 0], ...]
                rows = pick[sel, 1].to(device, non_blocking=True)
                x.index_copy_(0, rows, sub)
        if self._enable_normalize:
            views = [(x - self.mean) / self.std for x in views]
        return {'inputs': views if is_list else views[0],
                'data_samples': samples}
