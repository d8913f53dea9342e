"""Adversarial training of the StyleGAN2-style generator with mmengine:
the unconditional GAN and the instance-conditioned GAN (IC-GAN) of LMA.

One ``train_step`` = one discriminator step then one generator step, each
through its own optimiser wrapper (an ``OptimWrapperDict`` with keys
``generator`` and ``discriminator``, built by
:class:`~mmmix.engine.optimizers.GANOptimWrapperConstructor`):

* D: ``softplus(D(aug(G(z, h)), h)) + softplus(-D(aug(x), h))``, plus the
  lazy R1 penalty ``interval * gamma / 2 * ||grad_x D(aug(x), h)||^2``
  every ``r1_interval`` steps;
* G: the non-saturating ``softplus(-D(aug(G(z, h)), h))`` with fresh
  ``z`` (D's parameters frozen for this step, so no gradient reaches
  D's optimiser);
* EMA generator: ``beta = 0.5 ** (B / ema_nimg)``, ``ema_nimg =
  min(ema_kimg * 1000, cur_nimg * ema_rampup)`` (StyleGAN2-ADA's schedule;
  buffers copied), the image count kept in a buffer so a resumed run
  continues the schedule.

For the IC-GAN, ``x`` is a k-nearest neighbour of the instance whose
feature ``h`` conditions both networks (see
:class:`~mmmix.datasets.KNNInstanceDataset`); the data samples carry
``h`` as the field ``cond``.

``val_step`` samples the EMA generator for each real image of the batch
(conditioned on that image's own ``h`` for the IC-GAN) and returns data
samples with ``real_img`` and ``fake_img`` in [-1, 1], which
:class:`~mmmix.evaluation.FrechetDistance` compares.
"""
import copy
from typing import Dict, List, Optional, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor, BaseModel
from mmengine.optim import OptimWrapperDict
from mmpretrain.structures import DataSample

from mmmix.ops.diffaugment import diff_augment, parse_policy
from mmmix.registry import MODELS

from .stylegan2 import count_parameters


@MODELS.register_module()
class GANDataPreprocessor(BaseDataPreprocessor):
    """Stack uint8 images, scale them to [-1, 1] and centre-pad (or crop)
    them to the generator's resolution; stack the conditioning features.

    Args:
        resolution (int): output size (pads symmetrically with the value
            of a 0 pixel, i.e. -1, or centre-crops).
        pad_value (float): value of padded pixels in [-1, 1]. Defaults to
            -1 (black, the Fashion-MNIST background).
    """

    def __init__(self, resolution: int, pad_value: float = -1.0):
        super().__init__()
        self.resolution = resolution
        self.pad_value = pad_value

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = torch.stack(list(inputs))
        x = inputs.float() / 127.5 - 1
        x = center_pad_or_crop(x, self.resolution, self.pad_value)
        samples = data.get('data_samples')
        cond = None
        if samples and all(s is not None and 'cond' in s for s in samples):
            cond = torch.stack([torch.as_tensor(s.cond) for s in samples])
            cond = cond.to(x.device, torch.float32)
        return dict(inputs=x, cond=cond, data_samples=samples)


def center_pad_or_crop(x: torch.Tensor, size,
                       pad_value: float = -1.0) -> torch.Tensor:
    """Centre-pad (with ``pad_value``) or centre-crop the last two dims of
    ``x`` to ``size`` (an int for a square, or ``(height, width)``): the
    GAN's padding of the data and its inverse for generated images."""
    th, tw = (size, size) if isinstance(size, int) else tuple(size)
    h, w = x.shape[-2:]
    if h < th or w < tw:
        top, left = max(th - h, 0) // 2, max(tw - w, 0) // 2
        x = F.pad(x, (left, max(tw - w, 0) - left, top,
                      max(th - h, 0) - top), value=pad_value)
        h, w = x.shape[-2:]
    top, left = (h - th) // 2, (w - tw) // 2
    return x[..., top:top + th, left:left + tw]


@MODELS.register_module()
class GAN(BaseModel):
    """StyleGAN2-style GAN, unconditional or instance-conditioned (IC-GAN).

    Args:
        generator (dict): config of the generator
            (:class:`StyleGAN2Generator`).
        discriminator (dict): config of the discriminator; its
            ``cond_dim`` must equal the generator's.
        data_preprocessor (dict): Defaults to :class:`GANDataPreprocessor`
            at the generator's resolution.
        r1_gamma (float): R1 weight gamma (StyleGAN2-ADA 'cifar': 0.01).
            Defaults to 0.01.
        r1_interval (int): lazy R1 every this many D steps (0 = off).
            Defaults to 16.
        ema_kimg (float): EMA half-life in thousands of images. Defaults to
            10.
        ema_rampup (float, optional): half-life at most ``cur_nimg *
            ema_rampup`` (None = no ramp-up). Defaults to 0.05.
        diffaug_policy (str, optional): DiffAugment policy applied to real
            and fake images before D, e.g. ``'color,translation,cutout'``.
            Defaults to None.
        val_noise_mode (str): noise mode of the validation samples.
            Defaults to ``'random'``.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 generator: dict,
                 discriminator: dict,
                 data_preprocessor: Optional[dict] = None,
                 r1_gamma: float = 0.01,
                 r1_interval: int = 16,
                 ema_kimg: float = 10.,
                 ema_rampup: Optional[float] = 0.05,
                 diffaug_policy: Optional[str] = None,
                 val_noise_mode: str = 'random',
                 init_cfg: Optional[dict] = None):
        gen = MODELS.build(generator)
        if data_preprocessor is None:
            data_preprocessor = dict(type='mmmix.GANDataPreprocessor',
                                     resolution=gen.resolution)
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg)
        self.generator = gen
        self.discriminator = MODELS.build(discriminator)
        g, d = self.generator, self.discriminator
        if (d.cond_dim, d.resolution, d.img_channels) != (
                g.cond_dim, g.resolution, g.img_channels):
            raise ValueError(
                'generator and discriminator disagree: cond_dim / '
                'resolution / img_channels = '
                f'{(g.cond_dim, g.resolution, g.img_channels)} vs '
                f'{(d.cond_dim, d.resolution, d.img_channels)}')
        if r1_gamma < 0 or r1_interval < 0:
            raise ValueError('r1_gamma and r1_interval must be >= 0, got '
                             f'{r1_gamma}, {r1_interval}')
        if ema_kimg <= 0:
            raise ValueError(f'ema_kimg must be > 0, got {ema_kimg}')
        self.generator_ema = copy.deepcopy(self.generator).eval()
        self.generator_ema.requires_grad_(False)
        self.r1_gamma = r1_gamma
        self.r1_interval = r1_interval
        self.ema_kimg = ema_kimg
        self.ema_rampup = ema_rampup
        self.diffaug_policy = parse_policy(diffaug_policy)
        self.val_noise_mode = val_noise_mode
        self.register_buffer('cur_nimg', torch.zeros((), dtype=torch.long))
        self.register_buffer('d_steps', torch.zeros((), dtype=torch.long))
        # host copies of the two counters, read from the buffers once (at
        # the first step, i.e. after a resume loaded them): no device sync
        # per step
        self._host_counts = None

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._host_counts = None  # re-read the loaded counters

    @property
    def conditional(self) -> bool:
        return self.generator.cond_dim > 0

    def init_weights(self):
        super().init_weights()
        self.generator_ema.load_state_dict(self.generator.state_dict())

    def num_parameters(self) -> Dict[str, int]:
        return dict(generator=count_parameters(self.generator),
                    discriminator=count_parameters(self.discriminator))

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return (diff_augment(x, self.diffaug_policy)
                if self.diffaug_policy else x)

    def _z(self, n: int, like: torch.Tensor) -> torch.Tensor:
        return torch.randn(n, self.generator.z_dim, device=like.device)

    def _check_cond(self, cond: Optional[torch.Tensor]) -> None:
        if self.conditional and cond is None:
            raise ValueError(
                'the IC-GAN needs a conditioning feature per sample: the '
                "data samples must carry 'cond' (use KNNInstanceDataset)")

    def train_step(self, data: Union[dict, tuple, list],
                   optim_wrapper: OptimWrapperDict) -> Dict[str, torch.Tensor]:
        data = self.data_preprocessor(data, True)
        real, cond = data['inputs'], data['cond']
        if not self.conditional:
            cond = None
        self._check_cond(cond)
        b = real.shape[0]
        if self._host_counts is None:
            self._host_counts = [int(self.d_steps), int(self.cur_nimg)]
        g, d = self.generator, self.discriminator
        d_wrapper = optim_wrapper['discriminator']
        g_wrapper = optim_wrapper['generator']
        log = {}

        # Discriminator step.
        d.requires_grad_(True)
        with d_wrapper.optim_context(d):
            with torch.no_grad():
                fake = g(self._z(b, real), cond)
            do_r1 = (self.r1_interval > 0 and self.r1_gamma > 0
                     and self._host_counts[0] % self.r1_interval == 0)
            real_in = real.detach().requires_grad_(do_r1)
            d_real = d(self._aug(real_in), cond)
            d_fake = d(self._aug(fake), cond)
            loss_d = F.softplus(d_fake).mean() + F.softplus(-d_real).mean()
            if do_r1:
                grad, = torch.autograd.grad(
                    d_real.sum(), real_in, create_graph=True)
                r1 = grad.square().sum((1, 2, 3)).mean()
                loss_d = loss_d + (self.r1_gamma / 2 * self.r1_interval) * r1
                log['r1'] = r1.detach()
        d_wrapper.update_params(loss_d)
        self.d_steps += 1
        self._host_counts[0] += 1
        log.update(loss_d=loss_d.detach(), d_real=d_real.detach().mean(),
                   d_fake=d_fake.detach().mean())

        # Generator step (D frozen: its .grad stays empty).
        d.requires_grad_(False)
        with g_wrapper.optim_context(g):
            fake = g(self._z(b, real), cond)
            loss_g = F.softplus(-d(self._aug(fake), cond)).mean()
        g_wrapper.update_params(loss_g)
        d.requires_grad_(True)
        log['loss_g'] = loss_g.detach()

        self.cur_nimg += b
        self._host_counts[1] += b
        log['ema_beta'] = torch.tensor(self.update_ema(b))
        return log

    @torch.no_grad()
    def update_ema(self, batch_size: int) -> float:
        """Move the EMA generator towards the generator; return beta."""
        ema_nimg = self.ema_kimg * 1000
        if self.ema_rampup is not None:
            nimg = (self._host_counts[1] if self._host_counts is not None
                    else int(self.cur_nimg))
            ema_nimg = min(ema_nimg, nimg * self.ema_rampup)
        beta = 0.5**(batch_size / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.generator_ema.parameters(),
                            self.generator.parameters()):
            p_ema.lerp_(p.detach(), 1 - beta)
        for b_ema, b in zip(self.generator_ema.buffers(),
                            self.generator.buffers()):
            b_ema.copy_(b)
        return beta

    @torch.no_grad()
    def sample(self, num: int, cond: Optional[torch.Tensor] = None,
               truncation_psi: float = 1.0,
               noise_mode: str = 'random',
               ema: bool = True) -> torch.Tensor:
        """``num`` images of the (EMA) generator, clamped to [-1, 1]."""
        gen = self.generator_ema if ema else self.generator
        z = torch.randn(num, gen.z_dim, device=gen.const.device)
        return gen(z, cond, truncation_psi, noise_mode).clamp(-1, 1)

    def val_step(self, data: Union[dict, tuple, list]) -> List[DataSample]:
        data = self.data_preprocessor(data, False)
        real, cond = data['inputs'], data['cond']
        if not self.conditional:
            cond = None
        self._check_cond(cond)
        fake = self.sample(real.shape[0], cond,
                           noise_mode=self.val_noise_mode)
        out = []
        for i in range(real.shape[0]):
            s = DataSample()
            s.set_field(real[i], 'real_img', field_type='data')
            s.set_field(fake[i], 'fake_img', field_type='data')
            out.append(s)
        return out

    def test_step(self, data: Union[dict, tuple, list]) -> List[DataSample]:
        return self.val_step(data)

    def forward(self, inputs: torch.Tensor,
                data_samples: Optional[list] = None,
                mode: str = 'tensor'):
        """``mode='tensor'``: EMA samples, one per input row (``inputs``
        is the conditioning feature for the IC-GAN, any (B, ...) tensor
        otherwise). Training goes through :meth:`train_step`."""
        if mode != 'tensor':
            raise ValueError(f"GAN.forward supports mode='tensor' only, got "
                             f'{mode!r}; training uses train_step')
        cond = inputs if self.conditional else None
        return self.sample(inputs.shape[0], cond)
