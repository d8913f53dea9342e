"""GAN inversion: images -> W+ codes of a frozen StyleGAN2-style generator
("On Assimilating Learned Views in Contrastive Learning", spec 4.2, U9).

Two halves, used together by ``tools/learned_views/invert_dataset.py``:

- an *encoder* ``e`` (:class:`LatentEncoder`) trained by
  :func:`train_latent_encoder` on the generator's own samples (``w`` from
  the mapping, ``x = g(w)``; loss ``MSE(e(x), w) + lambda_img MSE(g(e(x)),
  x)``). The paper's in-domain encoder also has a VGG and an adversarial
  term (Eq. 5); neither VGG weights nor a discriminator-in-the-loop are
  needed here, so the encoder is a warm start only;
- per-image *optimisation* (:func:`invert_latents`): Adam on each image's
  W+ code from a warm start ``w_init`` (the encoder's output or ``w_avg``)
  on ``MSE(g(w), x) + lambda_perc MSE(h(g(w)), h(x)) + lambda_dom
  MSE(e(g(w)), w_init)`` with ``h`` any frozen feature network (a
  perceptual stand-in for VGG19) and ``e`` the encoder (the in-domain
  regulariser). Squared errors are means over the elements of each image.

Independence: the objective is the *sum* of the per-image losses, so the
gradient (and, Adam being element-wise, every update) of one image's code
depends on that image only; the frozen networks run in eval mode (no batch
statistics), so a batch inverts exactly as its images would one by one.
"""
import math
from numbers import Integral, Real
from typing import Callable, Dict, Iterable, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mmmix.ops.latent_views import _collect_modules, frozen_eval, truncate
from mmmix.registry import MODELS

_NOISE_MODES = ('random', 'const', 'none')


def _check_int(name: str, value, low: int) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool) or (
            value < low):
        raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
    return int(value)


def _check_float(name: str, value, low: float = 0.,
                 strict: bool = False) -> float:
    if not isinstance(value, Real) or isinstance(value, bool) or not (
            value > low if strict else value >= low):
        op = '>' if strict else '>='
        raise ValueError(f'{name} must be a real number {op} {low}, got '
                         f'{value!r}')
    return float(value)


def _per_image_mse(a, b) -> torch.Tensor:
    """``(B,)`` mean squared error of each image (or feature map); tuples
    / lists of tensors (multi-stage features) add their per-level means."""
    if isinstance(a, (tuple, list)):
        if len(a) != len(b) or not a:
            raise ValueError('feature tuples differ in length: '
                             f'{len(a)} vs {len(b)}')
        return sum(_per_image_mse(x, y) for x, y in zip(a, b))
    return (a - b).square().flatten(1).mean(1)


def inversion_loss(ws: torch.Tensor,
                   images: torch.Tensor,
                   synthesize: Callable[[torch.Tensor], torch.Tensor],
                   w_init: Optional[torch.Tensor] = None,
                   perceptual: Optional[Callable] = None,
                   lambda_perc: float = 1.0,
                   target_feats=None,
                   encoder: Optional[Callable] = None,
                   lambda_dom: float = 0.0
                   ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """Per-image inversion losses ``(B,)`` of the codes ``ws``.

    ``pixel = MSE(synthesize(ws), images)``, ``perc = MSE(perceptual(g),
    target_feats)`` (``target_feats = perceptual(images)`` unless given),
    ``dom = MSE(encoder(g), w_init)``; ``loss = pixel + lambda_perc perc +
    lambda_dom dom``, each a mean over one image's elements.

    Returns:
        tuple: ``(loss (B,), terms)`` with ``pixel``, ``perc``, ``dom``
        ``(B,)`` (zeros when unused) and ``recon`` (the synthesised images).
    """
    recon = synthesize(ws)
    if recon.shape != images.shape:
        raise ValueError(f'the synthesis gives images of shape '
                         f'{tuple(recon.shape)} but images are '
                         f'{tuple(images.shape)}: resize or pad the images '
                         "to the generator's resolution")
    pixel = _per_image_mse(recon, images)
    zeros = torch.zeros_like(pixel)
    perc = dom = zeros
    if perceptual is not None and lambda_perc > 0:
        if target_feats is None:
            with torch.no_grad():
                target_feats = perceptual(images)
        perc = _per_image_mse(perceptual(recon), target_feats)
    if encoder is not None and lambda_dom > 0:
        if w_init is None:
            raise ValueError('the in-domain term needs w_init')
        dom = _per_image_mse(encoder(recon), w_init)
    loss = pixel + lambda_perc * perc + lambda_dom * dom
    return loss, dict(pixel=pixel, perc=perc, dom=dom, recon=recon)


def invert_latents(synthesis: Callable,
                   images: torch.Tensor,
                   w_init: torch.Tensor,
                   steps: int = 200,
                   lr: float = 0.05,
                   perceptual: Optional[Callable] = None,
                   lambda_perc: float = 1.0,
                   encoder: Optional[Callable] = None,
                   lambda_dom: float = 0.0,
                   noise_mode: str = 'const',
                   truncation_psi: float = 1.0,
                   w_avg: Optional[torch.Tensor] = None,
                   modules: Iterable[nn.Module] = ()
                   ) -> Tuple[torch.Tensor, Dict]:
    """Optimise one W+ code per image so that the generator reproduces it.

    Adam (default betas) on ``ws`` (started at ``w_init``) minimises the
    *sum* over images of :func:`inversion_loss` (see the module doc), so
    images do not interact. The generator, ``perceptual`` and ``encoder``
    are frozen and in eval mode during the optimisation (both restored
    after).

    Args:
        synthesis (callable): ``synthesis(ws, noise_mode=...)`` -> images
            ``(B, C, R, R)``, e.g. ``G.synthesis`` of
            :class:`StyleGAN2Generator`.
        images (Tensor): ``(B, C, R, R)`` targets in ``[-1, 1]`` at the
            generator's resolution.
        w_init (Tensor): ``(B, L, D)`` warm start (the encoder's codes, or
            ``w_avg`` repeated). Also the in-domain target.
        steps (int): ``>= 0`` Adam steps. Defaults to 200.
        lr (float): ``> 0`` Adam learning rate. Defaults to 0.05.
        perceptual (callable, optional): frozen features of images in
            ``[-1, 1]`` (a tensor or a tuple of tensors, e.g. a backbone's
            stages with its input normalisation).
        lambda_perc (float): ``>= 0`` weight of the perceptual term.
        encoder (callable, optional): images -> ``(B, L, D)`` codes (the
            in-domain regulariser ``MSE(encoder(g(w)), w_init)``).
        lambda_dom (float): ``>= 0`` weight of the in-domain term. Defaults
            to 0 (off).
        noise_mode (str): the synthesis noise mode. Defaults to ``'const'``.
        truncation_psi (float): the codes are synthesised as
            ``truncate(ws, w_avg, truncation_psi)`` (1 = as they are), the
            convention of the view builders. Defaults to 1.
        w_avg (Tensor, optional): ``(D,)``; required when
            ``truncation_psi != 1``.
        modules (iterable of nn.Module): more modules to freeze (those
            behind lambdas).

    Returns:
        tuple: ``(ws, info)``: the detached codes ``(B, L, D)`` and a dict
        with ``loss`` (the final per-image losses ``(B,)``), ``mse`` and
        ``mse_init`` (per-image pixel MSE of the clamped reconstruction at
        the end and at the start, ``(B,)``), ``recon`` (the final clamped
        reconstruction) and ``history`` (the mean loss before each step).
    """
    if images.dim() != 4:
        raise ValueError(f'images must be (B, C, R, R), got '
                         f'{tuple(images.shape)}')
    if w_init.dim() != 3 or w_init.shape[0] != images.shape[0]:
        raise ValueError(f'w_init must be (B, L, D) with B={images.shape[0]}'
                         f', got {tuple(w_init.shape)}')
    steps = _check_int('steps', steps, 0)
    lr = _check_float('lr', lr, strict=True)
    lambda_perc = _check_float('lambda_perc', lambda_perc)
    lambda_dom = _check_float('lambda_dom', lambda_dom)
    if noise_mode not in _NOISE_MODES:
        raise ValueError(f'noise_mode must be one of {_NOISE_MODES}, got '
                         f'{noise_mode!r}')
    psi = float(truncation_psi)
    if psi != 1 and w_avg is None:
        raise ValueError('truncation_psi != 1 needs w_avg')
    named = [('synthesis', synthesis)]
    if perceptual is not None:
        named.append(('perceptual', perceptual))
    if encoder is not None:
        named.append(('encoder', encoder))
    frozen = _collect_modules(named, modules)

    def synthesize(ws):
        if psi != 1:
            ws = truncate(ws, w_avg, psi)
        return synthesis(ws, noise_mode=noise_mode)

    images = images.detach()
    w_init = w_init.detach()
    kw = dict(synthesize=synthesize, w_init=w_init, perceptual=perceptual,
              lambda_perc=lambda_perc, encoder=encoder,
              lambda_dom=lambda_dom)
    with frozen_eval(frozen):
        target_feats = None
        if perceptual is not None and lambda_perc > 0:
            with torch.no_grad():
                target_feats = perceptual(images)
        kw['target_feats'] = target_feats
        with torch.no_grad():
            mse_init = _per_image_mse(synthesize(w_init).clamp(-1, 1),
                                      images)
        ws = w_init.clone().requires_grad_(True)
        opt = torch.optim.Adam([ws], lr=lr)
        history = []
        for _ in range(steps):
            loss, _ = inversion_loss(ws, images, **kw)
            history.append(float(loss.detach().mean()))
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()  # per-image independent gradients
            opt.step()
        with torch.no_grad():
            loss, terms = inversion_loss(ws, images, **kw)
            recon = terms['recon'].clamp(-1, 1)
            mse = _per_image_mse(recon, images)
    info = dict(loss=loss.detach(), mse=mse, mse_init=mse_init,
                recon=recon, history=history)
    return ws.detach(), info


class _EncoderBlock(nn.Module):
    """Two 3x3 convs (leaky ReLU), average-pool down, 1x1 skip."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv0 = nn.Conv2d(in_channels, in_channels, 3, padding=1)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d(self.skip(x), 2)
        x = F.leaky_relu(self.conv0(x), 0.2)
        x = F.avg_pool2d(F.leaky_relu(self.conv1(x), 0.2), 2)
        return (x + y) / math.sqrt(2)


@MODELS.register_module()
class LatentEncoder(BaseModule):
    """A small residual conv encoder: images -> W+ codes ``(B, L, D)``.

    fromRGB (1x1), residual blocks halving the resolution down to 4x4, a
    linear layer to ``num_ws * w_dim``. The output is ``w_avg + residual``
    with the last layer initialised at ``init_scale`` of the default
    initialisation, so an untrained encoder returns about ``w_avg`` (set
    the buffer with :meth:`set_w_avg`; it is saved in the state dict). No
    normalisation layers: every image is encoded independently, the same
    in train and eval mode.

    Args:
        resolution (int): input size R (a power of 2, >= 4).
        img_channels (int): input channels. Defaults to 3.
        num_ws (int, optional): W+ layers L; defaults to the generator
            convention ``2 log2(R) - 2``.
        w_dim (int): code width D. Defaults to 128.
        channels (int): channels at resolution R (doubled at each halving).
            Defaults to 32.
        max_channels (int): channel cap. Defaults to 256.
        init_scale (float): scale of the last layer's initial weights.
            Defaults to 0.01.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 resolution: int,
                 img_channels: int = 3,
                 num_ws: Optional[int] = None,
                 w_dim: int = 128,
                 channels: int = 32,
                 max_channels: int = 256,
                 init_scale: float = 0.01,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
        if resolution < 4 or 2**log2 != resolution:
            raise ValueError('resolution must be a power of 2 >= 4, got '
                             f'{resolution!r}')
        for name, value in (('img_channels', img_channels), ('w_dim', w_dim),
                            ('channels', channels),
                            ('max_channels', max_channels)):
            _check_int(name, value, 1)
        if num_ws is None:
            num_ws = 2 * log2 - 2
        _check_int('num_ws', num_ws, 1)
        _check_float('init_scale', init_scale)
        self.resolution = resolution
        self.img_channels = img_channels
        self.num_ws = int(num_ws)
        self.w_dim = w_dim
        ch = min(channels, max_channels)
        self.from_rgb = nn.Conv2d(img_channels, ch, 1)
        blocks = []
        for _ in range(log2 - 2):
            out = min(ch * 2, max_channels)
            blocks.append(_EncoderBlock(ch, out))
            ch = out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(ch * 16, self.num_ws * w_dim)
        with torch.no_grad():
            self.head.weight.mul_(init_scale)
            self.head.bias.zero_()
        self.register_buffer('w_avg', torch.zeros(w_dim))

    @torch.no_grad()
    def set_w_avg(self, w_avg: torch.Tensor) -> None:
        """Set the code the untrained encoder returns (the generator's
        ``w_avg``)."""
        if w_avg.shape != (self.w_dim, ):
            raise ValueError(f'w_avg must have shape ({self.w_dim},), got '
                             f'{tuple(w_avg.shape)}')
        self.w_avg.copy_(w_avg)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        r = self.resolution
        if images.dim() != 4 or images.shape[1:] != (self.img_channels, r,
                                                     r):
            raise ValueError(f'images must be (B, {self.img_channels}, {r},'
                             f' {r}), got {tuple(images.shape)}')
        x = F.leaky_relu(self.from_rgb(images), 0.2)
        x = self.blocks(x).flatten(1)
        res = self.head(x).view(-1, self.num_ws, self.w_dim)
        return self.w_avg + res


def train_latent_encoder(generator: nn.Module,
                         encoder: nn.Module,
                         steps: int,
                         batch_size: int,
                         lr: float = 1e-3,
                         truncation_psi: float = 1.0,
                         lambda_img: float = 1.0,
                         noise_mode: str = 'const',
                         seed: Optional[int] = None,
                         callback: Optional[Callable[[int, float],
                                                     None]] = None
                         ) -> Dict[str, Sequence[float]]:
    """Train ``encoder`` to invert ``generator`` on its own samples.

    Each step draws ``z ~ N(0, I)``, ``w = mapping(z, truncation_psi)``
    (W codes repeated over the W+ layers), ``x = clamp(synthesis(w), -1,
    1)`` and takes an Adam step on ``MSE(e(x), w) + lambda_img
    MSE(synthesis(e(x)), x)``. The generator is frozen and in eval mode
    (its ``w_avg`` is not updated); the encoder is in train mode during the
    steps and left in eval mode. The encoder's ``w_avg`` is set to the
    generator's first (when it has :meth:`LatentEncoder.set_w_avg`).

    Args:
        generator (nn.Module): unconditional, with ``z_dim``, ``mapping``,
            ``synthesis`` and ``w_avg`` (:class:`StyleGAN2Generator`).
        encoder (nn.Module): images -> ``(B, L, D)``.
        steps (int): ``>= 0`` Adam steps.
        batch_size (int): ``>= 1`` samples per step.
        lr (float): ``> 0`` Adam learning rate. Defaults to 1e-3.
        truncation_psi (float): truncation of the training codes.
        lambda_img (float): ``>= 0`` weight of the image term.
        noise_mode (str): synthesis noise mode. Defaults to ``'const'``.
        seed (int, optional): seed of the ``z`` draws.
        callback (callable, optional): ``callback(step, loss)`` after each
            step (progress).

    Returns:
        dict: per-step ``loss``, ``latent_mse`` and ``image_mse`` lists.
    """
    steps = _check_int('steps', steps, 0)
    batch_size = _check_int('batch_size', batch_size, 1)
    lr = _check_float('lr', lr, strict=True)
    lambda_img = _check_float('lambda_img', lambda_img)
    if getattr(generator, 'cond_dim', 0):
        raise ValueError('train_latent_encoder needs an unconditional '
                         f'generator, got cond_dim={generator.cond_dim}')
    device = generator.w_avg.device
    encoder.to(device)
    if hasattr(encoder, 'set_w_avg'):
        encoder.set_w_avg(generator.w_avg)
    rng = torch.Generator(device=device)
    rng.manual_seed(int(seed) if seed is not None else
                    int(torch.randint(2**62, ()).item()))
    opt = torch.optim.Adam(encoder.parameters(), lr=lr)
    history = dict(loss=[], latent_mse=[], image_mse=[])
    encoder.train()
    with frozen_eval([generator]):
        for step in range(steps):
            z = torch.randn(batch_size, generator.z_dim, generator=rng,
                            device=device)
            with torch.no_grad():
                w = generator.mapping(z, truncation_psi=truncation_psi)
                x = generator.synthesis(w, noise_mode=noise_mode).clamp(-1,
                                                                        1)
            w_hat = encoder(x)
            lat = F.mse_loss(w_hat, w)
            img = (F.mse_loss(generator.synthesis(w_hat,
                                                  noise_mode=noise_mode), x)
                   if lambda_img > 0 else torch.zeros_like(lat))
            loss = lat + lambda_img * img
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history['loss'].append(float(loss.detach()))
            history['latent_mse'].append(float(lat.detach()))
            history['image_mse'].append(float(img.detach()))
            if callback is not None:
                callback(step, history['loss'][-1])
    encoder.eval()
    return history


__all__ = [
    'invert_latents', 'inversion_loss', 'LatentEncoder',
    'train_latent_encoder'
]
