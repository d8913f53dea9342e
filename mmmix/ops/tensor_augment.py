"""Batched hand-crafted augmentations (HCA) on image tensors.

Tensor counterparts of the mmpretrain / mmcv view transforms, for images
that are made on the model side (LMA spec U8: views generated in a batch
on the accelerator need the same HCA as the real images got in the data
pipeline). All functions take ``(B, C, H, W)`` float tensors with values in
the 0-255 range, in the channel order of the data pipeline, draw their
random parameters per sample on the tensor's device from an optional
``torch.Generator`` (on that device; ``None`` = torch's global RNG) and
never read a value back to the host, so a CUDA stream is not synchronised.

Semantics follow the cv2 backend of the pipeline transforms:

- :func:`random_resized_crop`: mmpretrain's ``RandomResizedCrop``: the crop
  area fraction ~ U(scale), the aspect ratio log-uniform in ``ratio``,
  ``w = round(sqrt(A r))``, ``h = round(sqrt(A / r))``, integer offsets,
  up to ``max_attempts`` tries (drawn at once, the first valid one kept)
  then a central fallback; the crop is resized bilinearly with cv2's
  pixel-centre convention (``align_corners=False``) and border clamping
  *inside the crop*. The resize is two small interpolation matrices
  (``out = R_y x R_x^T``), which reproduce ``mmcv.imcrop`` +
  ``mmcv.imresize`` (cv2 ``INTER_LINEAR``) up to cv2's fixed-point
  rounding; ``grid_sample`` on the full image would blend pixels from
  outside the crop at its border. No antialiasing, as cv2.
- :func:`color_jitter`: mmpretrain's ``ColorJitter`` with the cv2 backend
  (each factor uniform in its range, the four adjustments in a random
  order per image): brightness ``f x``; contrast blends with the rounded
  mean grey level of the image; saturation blends with the per-pixel grey
  image; hue rotates the HSV hue by ``h`` turns (3 channels only). Grey
  levels use mmcv's ``bgr2gray`` weights on the channels as they are
  (mmcv treats every 3-channel image as BGR; a 1-channel image is its own
  grey). Values are clipped to [0, 255] after each adjustment.
- :func:`random_grayscale`: mmcv's ``RandomGrayscale(keep_channels=True)``.
- :func:`random_flip`: mmcv's ``RandomFlip`` with one direction.
- :func:`gaussian_blur` / :func:`random_gaussian_blur`: a Gaussian of
  standard deviation ``sigma`` (PIL's ``GaussianBlur(radius)`` uses the
  radius as the standard deviation but approximates the kernel with box
  blurs), kernel half-width ``ceil(3 sigma_max)``, replicated borders.

Differences from the uint8 pipeline: the arithmetic stays in float (cv2
and numpy round or truncate to uint8 after every transform; the error is
below one grey level per step); callers that want pipeline-like values
round and clamp at the end (:func:`quantize`).

:func:`apply_view_pipeline` runs a list of mmpretrain transform configs
(the ``view_pipeline`` of a ``MultiView``) with these functions.
"""
import math
from numbers import Integral, Real
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F

#: mmcv ``bgr2gray`` weights of the channels 0, 1, 2 (B, G, R).
BGR_GRAY_WEIGHTS = (0.114, 0.587, 0.299)

Generator = Optional[torch.Generator]


# --------------------------------------------------------------- helpers
def _check_images(x: torch.Tensor, name: str = 'x') -> None:
    if not isinstance(x, torch.Tensor) or x.dim() != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(f'{name} must be a (B, C, H, W) tensor, got {shape}')
    if not x.is_floating_point():
        raise TypeError(f'{name} must be a float tensor (0-255 values), got '
                        f'{x.dtype}')


def _check_generator(x: torch.Tensor, generator: Generator) -> None:
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(f'generator is on {generator.device} but the images '
                         f'are on {x.device}: pass a torch.Generator of the '
                         "images' device")


def _rand(shape, x: torch.Tensor, generator: Generator) -> torch.Tensor:
    return torch.rand(shape, device=x.device, dtype=torch.float32,
                      generator=generator)


def _check_prob(prob, name: str = 'prob') -> float:
    if (not isinstance(prob, Real) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f'{name} must be a number in [0, 1], got {prob!r}')
    return float(prob)


def _check_range(value, name: str, low: float = 0.0,
                 high: float = math.inf) -> Tuple[float, float]:
    if (isinstance(value, (str, bytes)) or not isinstance(value, Sequence)
            or len(value) != 2
            or not all(isinstance(v, Real) and not isinstance(v, bool)
                       for v in value)):
        raise ValueError(f'{name} must be a (min, max) pair, got {value!r}')
    lo, hi = float(value[0]), float(value[1])
    if not low <= lo <= hi <= high:
        raise ValueError(f'{name} must satisfy {low} <= min <= max <= '
                         f'{high}, got {value!r}')
    return lo, hi


def _size(size) -> Tuple[int, int]:
    if isinstance(size, Integral) and not isinstance(size, bool):
        size = (size, size)
    if (isinstance(size, (str, bytes)) or not isinstance(size, Sequence)
            or len(size) != 2
            or not all(isinstance(s, Integral) and not isinstance(s, bool)
                       and s >= 1 for s in size)):
        raise ValueError('size must be an int >= 1 or an (h, w) pair of '
                         f'them, got {size!r}')
    return int(size[0]), int(size[1])


def _where(mask: torch.Tensor, a: torch.Tensor,
           b: torch.Tensor) -> torch.Tensor:
    """Per-sample select: ``a[i]`` where ``mask[i]`` else ``b[i]``."""
    return torch.where(mask.view(-1, *([1] * (a.dim() - 1))), a, b)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Round to integers and clamp to [0, 255] (the values of a uint8
    view), keeping the float dtype."""
    return x.round().clamp_(0, 255)


def _gray(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1, H, W)`` grey levels: mmcv's ``bgr2gray`` weights for 3
    channels, the channel itself for 1."""
    c = x.shape[1]
    if c == 1:
        return x
    if c != 3:
        raise ValueError(f'grey levels need 1 or 3 channels, got {c}')
    w = x.new_tensor(BGR_GRAY_WEIGHTS).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


# ------------------------------------------------------------ geometric
def sample_crop_boxes(num: int, height: int, width: int,
                      scale=(0.08, 1.0), ratio=(3 / 4, 4 / 3),
                      max_attempts: int = 10,
                      generator: Generator = None,
                      device='cpu') -> torch.Tensor:
    """Random-resized-crop boxes of mmpretrain's ``RandomResizedCrop``.

    ``max_attempts`` candidates are drawn for each sample at once; the
    first with ``0 < w <= width`` and ``0 < h <= height`` is kept, with
    uniform integer offsets; samples without one get the central fallback
    crop (the whole image clipped to the ratio range).

    Args:
        num (int): number of boxes ``B``.
        height (int): image height ``H``.
        width (int): image width ``W``.
        scale (tuple): range of the crop area fraction.
        ratio (tuple): range of the aspect ratio ``w / h`` (log-uniform).
        max_attempts (int): tries before the fallback.
        generator (torch.Generator, optional): on ``device``.
        device: where the boxes are made.

    Returns:
        LongTensor: ``(B, 4)`` boxes ``(top, left, h, w)``.
    """
    lo, hi = _check_range(scale, 'scale')
    r0, r1 = _check_range(ratio, 'ratio', low=1e-12)
    if (not isinstance(max_attempts, Integral)
            or isinstance(max_attempts, bool) or max_attempts < 0):
        raise ValueError(f'max_attempts must be an int >= 0, got '
                         f'{max_attempts!r}')
    ref = torch.empty(0, device=device)
    _check_generator(ref, generator)
    area = float(height * width)
    # central fallback (one value for the whole batch)
    in_ratio = width / height
    if in_ratio < r0:
        fw, fh = width, int(round(width / r0))
    elif in_ratio > r1:
        fw, fh = int(round(height * r1)), height
    else:
        fw, fh = width, height
    fallback = torch.tensor([(height - fh) // 2, (width - fw) // 2, fh, fw],
                            device=device)
    if max_attempts == 0 or num == 0:
        return fallback.expand(num, 4).clone()
    u = _rand((2, num, max_attempts), ref, generator)
    target = (lo + (hi - lo) * u[0]) * area
    log_r = math.log(r0) + (math.log(r1) - math.log(r0)) * u[1]
    aspect = torch.exp(log_r)
    tw = torch.round(torch.sqrt(target * aspect)).long()
    th = torch.round(torch.sqrt(target / aspect)).long()
    valid = (tw > 0) & (tw <= width) & (th > 0) & (th <= height)
    first = valid.to(torch.uint8).argmax(1, keepdim=True)
    tw = tw.gather(1, first)[:, 0]
    th = th.gather(1, first)[:, 0]
    off = _rand((2, num), ref, generator)
    top = torch.floor(off[0] * (height - th + 1)).long()
    left = torch.floor(off[1] * (width - tw + 1)).long()
    top = torch.minimum(top, height - th)
    left = torch.minimum(left, width - tw)
    boxes = torch.stack([top, left, th, tw], 1)
    return torch.where(valid.any(1, keepdim=True), boxes, fallback)


def _interp_matrix(start: torch.Tensor, length: torch.Tensor, out: int,
                   size: int, dtype) -> torch.Tensor:
    """``(B, out, size)`` bilinear weights of cv2's resize of the segment
    ``[start, start + length)`` to ``out`` pixels (pixel centres, source
    coordinates clamped to the segment)."""
    start = start.to(dtype)[:, None]
    length = length.to(dtype)[:, None]
    j = torch.arange(out, device=start.device, dtype=dtype)[None]
    src = (j + 0.5) * (length / out) - 0.5
    src = src.clamp(min=0).minimum(length - 1)
    i0 = torch.floor(src)
    frac = src - i0
    i1 = torch.minimum(i0 + 1, length - 1)
    m = torch.zeros(start.shape[0], out, size, device=start.device,
                    dtype=dtype)
    m.scatter_add_(2, (start + i0).long()[..., None], (1 - frac)[..., None])
    m.scatter_add_(2, (start + i1).long()[..., None], frac[..., None])
    return m


def resized_crop(x: torch.Tensor, boxes: torch.Tensor,
                 size) -> torch.Tensor:
    """Crop ``boxes`` ``(B, 4)`` = ``(top, left, h, w)`` out of ``x``
    ``(B, C, H, W)`` and resize each crop bilinearly to ``size`` (cv2
    ``INTER_LINEAR`` semantics, see the module doc)."""
    _check_images(x)
    oh, ow = _size(size)
    b, _, h, w = x.shape
    if boxes.shape != (b, 4):
        raise ValueError(f'boxes must be (B={b}, 4), got '
                         f'{tuple(boxes.shape)}')
    ry = _interp_matrix(boxes[:, 0], boxes[:, 2], oh, h, x.dtype)
    rx = _interp_matrix(boxes[:, 1], boxes[:, 3], ow, w, x.dtype)
    return ry[:, None] @ x @ rx.transpose(1, 2)[:, None]


def random_resized_crop(x: torch.Tensor, size, scale=(0.08, 1.0),
                        ratio=(3 / 4, 4 / 3), max_attempts: int = 10,
                        generator: Generator = None,
                        return_boxes: bool = False):
    """Per-sample random resized crop (mmpretrain ``RandomResizedCrop``).

    Args:
        x (Tensor): ``(B, C, H, W)`` float images.
        size (int | tuple): output ``(h, w)`` (an int: square).
        scale (tuple): range of the crop area fraction. Defaults to
            (0.08, 1).
        ratio (tuple): range of the crop aspect ratio ``w / h``, sampled
            log-uniformly. Defaults to (3/4, 4/3).
        max_attempts (int): tries before the central fallback. Defaults
            to 10.
        generator (torch.Generator, optional): on ``x``'s device.
        return_boxes (bool): also return the ``(B, 4)`` boxes
            ``(top, left, h, w)``.

    Returns:
        Tensor: ``(B, C, h, w)`` (and the boxes).
    """
    _check_images(x)
    _check_generator(x, generator)
    boxes = sample_crop_boxes(x.shape[0], x.shape[2], x.shape[3], scale,
                              ratio, max_attempts, generator, x.device)
    out = resized_crop(x, boxes, size)
    return (out, boxes) if return_boxes else out


def random_flip(x: torch.Tensor, prob: float = 0.5,
                direction: str = 'horizontal',
                generator: Generator = None) -> torch.Tensor:
    """Flip each image with probability ``prob`` (``'horizontal'``: the
    width axis, ``'vertical'``: the height axis)."""
    _check_images(x)
    _check_generator(x, generator)
    prob = _check_prob(prob)
    dims = dict(horizontal=-1, vertical=-2)
    if direction not in dims:
        raise ValueError(f"direction must be 'horizontal' or 'vertical', got "
                         f'{direction!r}')
    flip = _rand(x.shape[0], x, generator) < prob
    return _where(flip, x.flip(dims[direction]), x)


# ----------------------------------------------------------- photometric
def _factor_range(value, name: str, center: float = 1.0,
                  bound=(0.0, math.inf)) -> Optional[Tuple[float, float]]:
    """mmpretrain ``ColorJitter._set_range``: a number ``v`` gives
    ``(center - v, center + v)`` (clipped to ``bound``), a pair is taken as
    is; ``None`` when it is the identity."""
    if isinstance(value, Real) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f'{name} must be >= 0 as a single number, got '
                             f'{value!r}')
        value = (center - float(value), center + float(value))
    lo, hi = _check_range(value, name, low=-math.inf)
    lo, hi = max(lo, bound[0]), min(hi, bound[1])
    if lo > hi:
        raise ValueError(f'{name} range {value!r} is outside {bound}')
    return None if lo == hi == center else (lo, hi)


def _adjust_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue of 3-channel images by ``shift`` ``(B,)`` turns
    (channels read in the order mmcv reads them, BGR)."""
    b_, g_, r_ = x[:, 0], x[:, 1], x[:, 2]
    v, _ = x.max(1)
    mn, _ = x.min(1)
    delta = v - mn
    safe = torch.where(delta > 0, delta, torch.ones_like(delta))
    h = torch.where(
        v == r_, ((g_ - b_) / safe) % 6,
        torch.where(v == g_, (b_ - r_) / safe + 2, (r_ - g_) / safe + 4))
    h = torch.where(delta > 0, h, torch.zeros_like(h)) / 6
    h = (h + shift.view(-1, 1, 1)) % 1.0
    # hsv -> rgb: channel k = v - delta * clamp(min(t, 4 - t), 0, 1) with
    # t = (n + 6 h) mod 6, n = 5 (R), 3 (G), 1 (B)
    out = []
    for n in (1, 3, 5):  # B, G, R
        t = (n + 6 * h) % 6
        out.append(v - delta * torch.clamp(torch.minimum(t, 4 - t), 0, 1))
    return torch.stack(out, 1)


def color_jitter(x: torch.Tensor, brightness=0.0, contrast=0.0,
                 saturation=0.0, hue=0.0, prob: float = 1.0,
                 generator: Generator = None) -> torch.Tensor:
    """mmpretrain ``ColorJitter`` (cv2 backend), applied to each image with
    probability ``prob`` (the ``RandomApply`` around it).

    Each factor is uniform in ``[max(0, 1 - v), 1 + v]`` for a number ``v``
    or in a given ``(min, max)`` (hue: ``[-v, v]``, within [-0.5, 0.5]);
    the four adjustments run in a random order per image (see the module
    doc for each).

    Args:
        x (Tensor): ``(B, C, H, W)`` float images, 0-255.
        brightness, contrast, saturation (float | tuple): jitter amounts.
        hue (float | tuple): hue jitter in turns; needs 3 channels.
        prob (float): probability of jittering an image. Defaults to 1.
        generator (torch.Generator, optional): on ``x``'s device.

    Returns:
        Tensor: jittered images, clipped to [0, 255].
    """
    _check_images(x)
    _check_generator(x, generator)
    prob = _check_prob(prob)
    ranges = [
        _factor_range(brightness, 'brightness'),
        _factor_range(contrast, 'contrast'),
        _factor_range(saturation, 'saturation'),
        _factor_range(hue, 'hue', center=0.0, bound=(-0.5, 0.5)),
    ]
    if ranges[3] is not None and x.shape[1] != 3:
        raise ValueError(f'hue jitter needs 3-channel images, got '
                         f'{x.shape[1]} channels (set hue=0)')
    if x.shape[1] not in (1, 3) and any(r is not None for r in ranges[1:]):
        raise ValueError('contrast, saturation and hue need 1 or 3 '
                         f'channels, got {x.shape[1]}')
    bsz = x.shape[0]
    u = _rand((5, bsz), x, generator)
    order = torch.argsort(_rand((bsz, 4), x, generator), dim=1)
    factors = [None if r is None else r[0] + (r[1] - r[0]) * u[k]
               for k, r in enumerate(ranges)]
    out = x
    for pos in range(4):
        for op, f in enumerate(factors):
            if f is None:
                continue
            fv = f.view(-1, 1, 1, 1)
            if op == 0:
                y = out * fv
            elif op == 1:
                mean = _gray(out).mean((1, 2, 3), keepdim=True).round()
                y = fv * out + (1 - fv) * mean
            elif op == 2:
                y = fv * out + (1 - fv) * _gray(out)
            else:
                y = _adjust_hue(out, f)
            y = y.clamp(0, 255)
            out = _where(order[:, pos] == op, y, out)
    if prob < 1:
        out = _where(u[4] < prob, out, x)
    return out


def random_grayscale(x: torch.Tensor, prob: float = 0.1,
                     channel_weights: Sequence[float] = (1.0, 1.0, 1.0),
                     generator: Generator = None) -> torch.Tensor:
    """mmcv ``RandomGrayscale(keep_channels=True)``: with probability
    ``prob`` each channel becomes ``sum_c w_c x_c`` (weights normalised to
    sum 1). 1-channel images are returned as they are."""
    _check_images(x)
    _check_generator(x, generator)
    prob = _check_prob(prob)
    c = x.shape[1]
    flags = _rand(x.shape[0], x, generator) < prob
    if c == 1:
        return x
    if len(channel_weights) != c:
        raise ValueError(f'channel_weights has {len(channel_weights)} values '
                         f'but the images have {c} channels')
    w = x.new_tensor([float(v) for v in channel_weights])
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError('channel_weights must be >= 0 with a positive sum, '
                         f'got {channel_weights!r}')
    gray = (x * (w / w.sum()).view(1, c, 1, 1)).sum(1, keepdim=True)
    return _where(flags, gray.expand_as(x), x)


def gaussian_blur(x: torch.Tensor, sigma: Union[float, torch.Tensor],
                  max_sigma: Optional[float] = None) -> torch.Tensor:
    """Blur each image with a Gaussian of standard deviation ``sigma``.

    Args:
        x (Tensor): ``(B, C, H, W)`` float images.
        sigma (float | Tensor): a number or ``(B,)`` per-image values
            >= 0 (0 = unchanged).
        max_sigma (float, optional): an upper bound of ``sigma``; the
            kernel half-width is ``ceil(3 max_sigma)``. Defaults to the
            largest ``sigma`` (read back from the device for a tensor).

    Returns:
        Tensor: the blurred images (replicated borders).
    """
    _check_images(x)
    b = x.shape[0]
    if isinstance(sigma, torch.Tensor):
        if sigma.shape != (b, ):
            raise ValueError(f'sigma must be a number or a (B={b},) tensor, '
                             f'got shape {tuple(sigma.shape)}')
        sigma = sigma.to(x.device)
    else:
        if not isinstance(sigma, Real) or isinstance(sigma, bool):
            raise ValueError(f'sigma must be a number >= 0, got {sigma!r}')
        sigma = torch.full((b, ), float(sigma), device=x.device)
    if max_sigma is None:
        max_sigma = float(sigma.max()) if b else 0.0
    if max_sigma < 0:
        raise ValueError(f'sigma must be >= 0, got max {max_sigma}')
    return _blur(x, sigma, math.ceil(3 * float(max_sigma)))


def _blur(x: torch.Tensor, sigma: torch.Tensor, radius: int) -> torch.Tensor:
    b, c, h, w = x.shape
    if radius == 0 or b == 0:
        return x
    d = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    s = sigma.to(x.dtype).clamp(min=1e-6)[:, None]
    k = torch.exp(-0.5 * (d[None] / s)**2)
    k = torch.where(sigma[:, None] > 0, k, (d[None] == 0).to(x.dtype))
    k = k / k.sum(1, keepdim=True)  # (B, 2r + 1)
    k = k.repeat_interleave(c, 0)  # (B C, 2r + 1)
    y = x.reshape(1, b * c, h, w)
    y = F.pad(y, (radius, radius, radius, radius), mode='replicate')
    y = F.conv2d(y, k[:, None, :, None], groups=b * c)
    y = F.conv2d(y, k[:, None, None, :], groups=b * c)
    return y.reshape(b, c, h, w)


def random_gaussian_blur(x: torch.Tensor, sigma_range=(0.1, 2.0),
                         prob: float = 0.5,
                         generator: Generator = None) -> torch.Tensor:
    """With probability ``prob`` blur each image with ``sigma`` uniform in
    ``sigma_range`` (mmselfsup ``RandomGaussianBlur``, MoCo v2's blur)."""
    _check_images(x)
    _check_generator(x, generator)
    prob = _check_prob(prob)
    lo, hi = _check_range(sigma_range, 'sigma_range')
    u = _rand((2, x.shape[0]), x, generator)
    sigma = lo + (hi - lo) * u[0]
    sigma = torch.where(u[1] < prob, sigma, torch.zeros_like(sigma))
    return _blur(x, sigma, math.ceil(3 * hi))


# ------------------------------------------------------------- pipeline
Op = Callable[[torch.Tensor, Generator], torch.Tensor]
SUPPORTED = ('RandomResizedCrop', 'RandomApply', 'ColorJitter',
             'RandomGrayscale', 'RandomFlip', 'GaussianBlur',
             'RandomGaussianBlur')


def _kwargs(cfg: dict, allowed: Sequence[str], name: str) -> dict:
    extra = sorted(set(cfg) - set(allowed) - {'type', '_scope_'})
    if extra:
        raise ValueError(f'{name}: arguments {extra} are not supported by '
                         f'the tensor augmentations (supported: '
                         f'{sorted(allowed)})')
    return {k: v for k, v in cfg.items() if k in allowed}


def _build_op(cfg) -> Op:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        raise ValueError(f'a view-pipeline transform must be a dict with a '
                         f'"type", got {cfg!r}')
    name = cfg['type']
    if not isinstance(name, str):
        name = getattr(name, '__name__', repr(name))
    name = name.split('.')[-1]  # drop a scope prefix
    if name == 'RandomResizedCrop':
        kw = _kwargs(cfg, ('scale', 'crop_ratio_range', 'aspect_ratio_range',
                           'max_attempts', 'interpolation', 'backend'), name)
        if kw.get('interpolation', 'bilinear') != 'bilinear':
            raise ValueError(f'{name}: only interpolation="bilinear" is '
                             f'supported, got {kw["interpolation"]!r}')
        size = _size(kw['scale'])
        scale = _check_range(kw.get('crop_ratio_range', (0.08, 1.0)),
                             'crop_ratio_range')
        ratio = _check_range(kw.get('aspect_ratio_range', (3 / 4, 4 / 3)),
                             'aspect_ratio_range', low=1e-12)
        tries = kw.get('max_attempts', 10)
        return lambda x, g: random_resized_crop(x, size, scale, ratio, tries,
                                                g)
    if name == 'RandomApply':
        kw = _kwargs(cfg, ('transforms', 'prob'), name)
        prob = _check_prob(kw.get('prob', 0.5), 'RandomApply prob')
        inner = build_view_pipeline(kw['transforms'])

        def apply(x, g):
            y = _run(inner, x, g)
            if y.shape != x.shape:
                raise ValueError('RandomApply: the wrapped transforms must '
                                 'keep the image shape')
            return _where(_rand(x.shape[0], x, g) < prob, y, x)

        return apply
    if name == 'ColorJitter':
        kw = _kwargs(cfg, ('brightness', 'contrast', 'saturation', 'hue',
                           'backend'), name)
        kw.pop('backend', None)
        # validate now
        for key in ('brightness', 'contrast', 'saturation'):
            _factor_range(kw.get(key, 0.0), key)
        _factor_range(kw.get('hue', 0.0), 'hue', 0.0, (-0.5, 0.5))
        return lambda x, g: color_jitter(x, generator=g, **kw)
    if name == 'RandomGrayscale':
        kw = _kwargs(cfg, ('prob', 'keep_channels', 'channel_weights',
                           'color_format'), name)
        if kw.get('color_format', 'bgr') not in ('bgr', 'rgb'):
            raise ValueError(f"{name}: color_format must be 'bgr' or 'rgb', "
                             f'got {kw["color_format"]!r}')
        prob = _check_prob(kw.get('prob', 0.1), 'RandomGrayscale prob')
        weights = tuple(kw.get('channel_weights', (1.0, 1.0, 1.0)))
        keep = kw.get('keep_channels', False)

        def gray(x, g):
            if x.shape[1] > 1 and not keep:
                raise ValueError('RandomGrayscale: keep_channels=False would '
                                 'change the channel count of some images '
                                 'of a batch; use keep_channels=True')
            return random_grayscale(x, prob, weights, g)

        return gray
    if name == 'RandomFlip':
        kw = _kwargs(cfg, ('prob', 'direction'), name)
        prob = kw.get('prob', None)
        direction = kw.get('direction', 'horizontal')
        if prob is None:
            raise ValueError(f'{name}: prob is required')
        if isinstance(prob, (list, tuple)) or isinstance(direction,
                                                         (list, tuple)):
            raise ValueError(f'{name}: only one prob and one direction are '
                             'supported')
        _check_prob(prob, 'RandomFlip prob')
        if direction not in ('horizontal', 'vertical'):
            raise ValueError(f"{name}: direction must be 'horizontal' or "
                             f"'vertical', got {direction!r}")
        return lambda x, g: random_flip(x, prob, direction, g)
    if name == 'GaussianBlur':  # mmpretrain's (PIL radius = sigma)
        kw = _kwargs(cfg, ('radius', 'prob', 'magnitude_range',
                           'magnitude_level', 'magnitude_std',
                           'total_level'), name)
        prob = _check_prob(kw.get('prob', 0.5), 'GaussianBlur prob')
        radius = kw.get('radius')
        rng = kw.get('magnitude_range')
        if (radius is None) == (rng is None):
            raise ValueError(f'{name}: give exactly one of radius and '
                             'magnitude_range')
        if radius is not None:
            lo = hi = float(radius)
            std = 0
        else:
            _check_range(sorted(rng), 'magnitude_range')
            v1, v2 = float(rng[0]), float(rng[1])  # may be descending
            level = float(kw.get('magnitude_level', 10))
            total = float(kw.get('total_level', 10))
            std = kw.get('magnitude_std', 0.0)
            if std == 'inf':  # uniform level in [0, level]
                lo, hi = v1, v1 + level / total * (v2 - v1)
            elif std > 0:
                raise ValueError(f'{name}: magnitude_std > 0 is not '
                                 'supported (use "inf" or 0)')
            else:
                lo = hi = v1 + level / total * (v2 - v1)
        lo, hi = min(lo, hi), max(lo, hi)
        return lambda x, g: random_gaussian_blur(x, (lo, hi), prob, g)
    if name == 'RandomGaussianBlur':  # mmselfsup's
        kw = _kwargs(cfg, ('sigma_min', 'sigma_max', 'prob'), name)
        rng = (kw.get('sigma_min', 0.1), kw.get('sigma_max', 2.0))
        prob = _check_prob(kw.get('prob', 0.5), 'RandomGaussianBlur prob')
        _check_range(rng, 'sigma_min/sigma_max')
        return lambda x, g: random_gaussian_blur(x, rng, prob, g)
    if name in ('LocalManifoldAugment', 'LoadGeneratedView', 'KNNReplace'):
        raise ValueError(f'{name} in a tensor view pipeline: the generated '
                         'view replaces the image before these transforms; '
                         'drop it from the pipeline')
    raise ValueError(f'the tensor view pipeline does not support transform '
                     f'{cfg["type"]!r}; supported: {", ".join(SUPPORTED)}')


def build_view_pipeline(pipeline: Sequence[dict]) -> List[Op]:
    """Check a list of transform configs and turn it into tensor ops
    ``op(x, generator) -> x``.

    Raises:
        ValueError: naming an unsupported transform or argument.
    """
    if isinstance(pipeline, dict) or not isinstance(pipeline,
                                                    (list, tuple)):
        raise ValueError('a view pipeline must be a list of transform '
                         f'configs, got {type(pipeline).__name__}')
    return [_build_op(cfg) for cfg in pipeline]


def _run(ops: List[Op], x: torch.Tensor, generator: Generator):
    for op in ops:
        x = op(x, generator)
    return x


def apply_view_pipeline(x: torch.Tensor, pipeline,
                        generator: Generator = None) -> torch.Tensor:
    """Apply a view pipeline to a batch, per-sample random.

    Args:
        x (Tensor): ``(B, C, H, W)`` float images, 0-255, in the data
            pipeline's channel order.
        pipeline (list): mmpretrain transform configs (``type`` with or
            without a scope prefix): ``RandomResizedCrop(scale,
            crop_ratio_range, aspect_ratio_range, max_attempts)``,
            ``RandomApply(transforms, prob)``, ``ColorJitter(brightness,
            contrast, saturation, hue)``, ``RandomGrayscale(prob,
            keep_channels=True, channel_weights)``, ``RandomFlip(prob,
            direction)``, ``GaussianBlur(radius | magnitude_range, prob)``,
            ``RandomGaussianBlur(sigma_min, sigma_max, prob)``; or the ops
            of :func:`build_view_pipeline`.
        generator (torch.Generator, optional): on ``x``'s device.

    Returns:
        Tensor: the augmented float images (not quantised).

    Raises:
        ValueError: an unsupported transform (named) or argument.
    """
    _check_images(x)
    _check_generator(x, generator)
    ops = pipeline if pipeline and all(callable(p) for p in pipeline) \
        else build_view_pipeline(pipeline)
    return _run(ops, x, generator)
