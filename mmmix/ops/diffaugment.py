"""Differentiable augmentation for GAN training on little data (Zhao et
al., 2020, "DiffAugment"): the same random colour / translation / cutout
is applied to real and generated images before the discriminator, with
gradients flowing through to the generator. Batched, no host syncs.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

DIFFAUG_POLICIES = ('color', 'translation', 'cutout')


def parse_policy(policy) -> Tuple[str, ...]:
    """``'color,translation'`` or a sequence -> a checked tuple."""
    if policy is None or policy == '':
        return ()
    parts = (policy.split(',') if isinstance(policy, str) else
             list(policy))
    parts = tuple(p.strip() for p in parts if p.strip())
    bad = [p for p in parts if p not in DIFFAUG_POLICIES]
    if bad:
        raise ValueError(f'diffaugment policy entries must be in '
                         f'{DIFFAUG_POLICIES}, got {bad}')
    return parts


def _rand(x: torch.Tensor, *shape,
          generator: Optional[torch.Generator] = None) -> torch.Tensor:
    return torch.rand(*shape, device=x.device, dtype=x.dtype,
                      generator=generator)


def diff_augment(x: torch.Tensor, policy: Sequence[str],
                 translation_ratio: float = 0.125,
                 cutout_ratio: float = 0.5,
                 generator: Optional[torch.Generator] = None
                 ) -> torch.Tensor:
    """Apply the policy's augmentations (in the order given) to a batch
    (B, C, H, W) of images in [-1, 1].

    * color: brightness +U(-0.5, 0.5), saturation x U(0, 2) (colour images
      only), contrast x U(0.5, 1.5), per sample;
    * translation: shift by up to ``translation_ratio`` of the size, zero
      padded, integer pixels;
    * cutout: a zeroed square of ``cutout_ratio`` of the size at a random
      position.
    """
    b, c, h, w = x.shape
    for p in policy:
        if p == 'color':
            x = x + (_rand(x, b, 1, 1, 1, generator=generator) - 0.5)
            if c > 1:
                mean = x.mean(1, keepdim=True)
                x = (x - mean) * (_rand(x, b, 1, 1, 1,
                                        generator=generator) * 2) + mean
            mean = x.mean((1, 2, 3), keepdim=True)
            x = (x - mean) * (_rand(x, b, 1, 1, 1, generator=generator) +
                              0.5) + mean
        elif p == 'translation':
            sh, sw = int(h * translation_ratio + 0.5), int(
                w * translation_ratio + 0.5)
            dy = torch.randint(-sh, sh + 1, (b, 1, 1), device=x.device,
                               generator=generator)
            dx = torch.randint(-sw, sw + 1, (b, 1, 1), device=x.device,
                               generator=generator)
            gy = torch.arange(h, device=x.device)[None, :, None] + dy
            gx = torch.arange(w, device=x.device)[None, None, :] + dx
            padded = F.pad(x, (1, 1, 1, 1))
            gy = gy.clamp(-1, h) + 1
            gx = gx.clamp(-1, w) + 1
            bi = torch.arange(b, device=x.device)[:, None, None]
            x = padded.permute(0, 2, 3, 1)[bi, gy, gx].permute(0, 3, 1, 2)
        elif p == 'cutout':
            ch, cw = int(h * cutout_ratio + 0.5), int(w * cutout_ratio + 0.5)
            oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1),
                               device=x.device, generator=generator)
            ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1),
                               device=x.device, generator=generator)
            ys = torch.arange(h, device=x.device)[None, :, None]
            xs = torch.arange(w, device=x.device)[None, None, :]
            keep = ~(((ys - oy + ch // 2).clamp(min=-1) >= 0)
                     & (ys - oy + ch // 2 < ch)
                     & (xs - ox + cw // 2 >= 0) & (xs - ox + cw // 2 < cw))
            x = x * keep[:, None].to(x.dtype)
    return x
