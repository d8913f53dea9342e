"""Sampling views from a frozen instance-conditioned generator (LMA).

:class:`LMASampler` wraps the operator of LMA spec 2.6:
``LMA(x_i) = clamp(G_ema(z, H[i]))`` with ``H`` a
:class:`~mmmix.datasets.FeatureBank` indexed by ``sample_idx`` and
``z ~ N(0, I)``, or ``z`` uniform over a global seeded pool of ``M``
latents (the finite-view ablation, spec 2.8 / A17). The data pipeline's
:class:`~mmmix.datasets.transforms.LocalManifoldAugment` uses it, and so can
tools (visualisation, batched sampling).
"""
import copy
from numbers import Integral, Real
from typing import Optional, Union

import torch
import torch.nn as nn

from mmmix.engine.checkpoint import load_prefixed_state_dict  # noqa: F401
from mmmix.registry import MODELS

NOISE_MODES = ('random', 'const', 'none')


class LMASampler:
    """Draw generated views of given samples from a frozen generator.

    Args:
        generator (dict | nn.Module): a ``MODELS`` config (e.g.
            ``dict(type='mmmix.StyleGAN2Generator', ...)``) or a module with
            ``z_dim``, ``cond_dim``, ``img_channels``, ``resolution`` and
            ``forward(z, cond, truncation_psi, noise_mode)``.
        checkpoint (str, optional): mmengine checkpoint of the GAN model;
            the entries under ``prefix`` are loaded strictly.
        bank (FeatureBank | str, optional): the conditioning bank (or its
            folder). Required by a conditional generator, refused by an
            unconditional one.
        prefix (str): key prefix of the generator in ``checkpoint``.
            Defaults to ``'generator_ema.'`` (the EMA weights LMA samples
            from).
        z_pool_size (int, optional): if given, ``z`` is drawn uniformly
            from one global pool of that many latents (LMA Table 5, spec
            A17), drawn once from ``torch.Generator`` seeded ``z_pool_seed``.
        z_pool_seed (int): seed of the pool. Defaults to 0.
        truncation (float): truncation ``psi``; 1 = none (spec A9).
        noise_mode (str, optional): ``'random'``, ``'const'`` or ``'none'``.
            ``None`` (default) is ``'random'`` (spec A9), or ``'const'``
            with a ``z_pool_size``, so that the pool really gives at most
            ``M`` views per image.
        center_crop (int, optional): keep the central ``c x c`` pixels of
            the ``R x R`` output (e.g. 28 of a 32-pixel Fashion-MNIST
            generator trained on zero-padded images).
        device (str): where the generator runs. Defaults to ``'cpu'``.
    """

    def __init__(self,
                 generator: Union[dict, nn.Module],
                 checkpoint: Optional[str] = None,
                 bank=None,
                 prefix: str = 'generator_ema.',
                 z_pool_size: Optional[int] = None,
                 z_pool_seed: int = 0,
                 truncation: float = 1.0,
                 noise_mode: Optional[str] = None,
                 center_crop: Optional[int] = None,
                 device: str = 'cpu'):
        if z_pool_size is not None and (
                not isinstance(z_pool_size, Integral)
                or isinstance(z_pool_size, bool) or z_pool_size < 1):
            raise ValueError('z_pool_size must be None or an int >= 1, got '
                             f'{z_pool_size!r}')
        if noise_mode is None:
            noise_mode = 'random' if z_pool_size is None else 'const'
        if noise_mode not in NOISE_MODES:
            raise ValueError(f'noise_mode must be one of {NOISE_MODES}, got '
                             f'{noise_mode!r}')
        if (not isinstance(truncation, Real) or isinstance(truncation, bool)
                or not 0 <= truncation <= 1):
            raise ValueError(f'truncation must be in [0, 1], got '
                             f'{truncation!r}')
        self.device = torch.device(device)
        if isinstance(generator, nn.Module):
            net = generator
        else:
            from mmengine.registry import DefaultScope
            scope = None if DefaultScope.get_current_instance() else 'mmmix'
            with DefaultScope.overwrite_default_scope(scope):
                net = MODELS.build(copy.deepcopy(generator))
        for attr in ('z_dim', 'cond_dim', 'img_channels', 'resolution'):
            if not hasattr(net, attr):
                raise AttributeError(f'the generator {type(net).__name__} '
                                     f'has no {attr!r} attribute')
        if checkpoint is not None:
            load_prefixed_state_dict(net, checkpoint, prefix)
        net.requires_grad_(False)
        self.generator = net.to(self.device).eval()
        if isinstance(bank, str):
            from mmmix.datasets.feature_bank import FeatureBank
            bank = FeatureBank.load(bank)
        cond_dim = int(net.cond_dim)
        if bank is not None and cond_dim == 0:
            raise ValueError('a feature bank was given but the generator is '
                             'unconditional (cond_dim=0)')
        if bank is None and cond_dim > 0:
            raise ValueError(f'the generator is conditional (cond_dim='
                             f'{cond_dim}): a feature bank is required')
        if bank is not None and bank.dim != cond_dim:
            raise ValueError(f'generator cond_dim={cond_dim} but the feature '
                             f'bank dim={bank.dim}')
        self.bank = bank
        res = int(net.resolution)
        if center_crop is not None and (
                not isinstance(center_crop, Integral)
                or isinstance(center_crop, bool)
                or not 1 <= center_crop <= res):
            raise ValueError(f'center_crop must be None or an int in [1, '
                             f'{res}] (the generator resolution), got '
                             f'{center_crop!r}')
        self.center_crop = center_crop
        self.truncation = float(truncation)
        self.noise_mode = noise_mode
        self.z_pool = None
        if z_pool_size is not None:
            g = torch.Generator().manual_seed(int(z_pool_seed))
            self.z_pool = torch.randn(int(z_pool_size), int(net.z_dim),
                                      generator=g)

    @property
    def num_samples(self) -> Optional[int]:
        """Rows of the bank (``None`` without one)."""
        return None if self.bank is None else len(self.bank)

    @property
    def out_shape(self) -> tuple:
        """``(C, R', R')`` of the returned images."""
        size = self.center_crop or int(self.generator.resolution)
        return int(self.generator.img_channels), size, size

    def draw_z(self, num: int,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """``(num, z_dim)`` latents: standard normal or pool entries."""
        if self.z_pool is not None:
            pick = torch.randint(len(self.z_pool), (num, ),
                                 generator=generator)
            return self.z_pool[pick]
        return torch.randn(num, int(self.generator.z_dim),
                           generator=generator)

    @torch.no_grad()
    def sample(self, indices,
               generator: Optional[torch.Generator] = None) -> torch.Tensor:
        """Generated views of samples ``indices``.

        Args:
            indices (LongTensor | Sequence[int]): ``(B,)`` sample indices
                (rows of the bank; ignored by an unconditional generator
                except for ``B``).
            generator (torch.Generator, optional): source of ``z`` (and of
                the per-pixel noise, by seeding torch's RNG for the call);
                torch's global RNG when ``None``.

        Returns:
            Tensor: ``(B, C, R', R')`` float on CPU, clamped to [-1, 1].
        """
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        z = self.draw_z(len(idx), generator).to(self.device)
        cond = None
        if self.bank is not None:
            cond = self.bank[idx].to(self.device)
        if generator is None:
            out = self._run(z, cond)
        else:  # noise from the given stream too
            devices = ([self.device.index or 0]
                       if self.device.type == 'cuda' else [])
            seed = int(torch.randint(2**62, (1, ), generator=generator))
            with torch.random.fork_rng(devices=devices):
                # not torch.manual_seed: it also queues a lazy seeding of
                # every CUDA device, slow per call
                torch.default_generator.manual_seed(seed)
                for d in devices:
                    torch.cuda.default_generators[d].manual_seed(seed)
                out = self._run(z, cond)
        if self.center_crop is not None:
            from mmmix.models.generators.gan import center_pad_or_crop
            out = center_pad_or_crop(out, self.center_crop)
        return out.float().clamp_(-1, 1).cpu()

    def _run(self, z: torch.Tensor, cond: Optional[torch.Tensor]):
        return self.generator(z, cond, truncation_psi=self.truncation,
                              noise_mode=self.noise_mode)
