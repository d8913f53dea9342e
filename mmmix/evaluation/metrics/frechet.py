"""Fréchet distance between real and generated images (FID-style)."""
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from torch import nn

from mmmix.engine.checkpoint import load_prefixed_state_dict
from mmmix.ops import feature_statistics, frechet_distance
from mmmix.registry import METRICS, MODELS


def _field(sample, key: str):
    """``sample[key]`` of a dict or an attribute of a data sample."""
    if isinstance(sample, dict):
        return sample.get(key)
    return getattr(sample, key, None)


def _channel_vector(name: str, value, default=None) -> Optional[torch.Tensor]:
    if value is None:
        return default
    values = [value] if np.isscalar(value) else list(value)
    if not values or not all(np.isscalar(v) for v in values):
        raise ValueError(f'{name} must be a number or a sequence of numbers '
                         f'(one per channel), got {value!r}')
    return torch.tensor(values, dtype=torch.float32).view(-1, 1, 1)


@METRICS.register_module()
class FrechetDistance(BaseMetric):
    """Fréchet distance of real vs generated images in a feature space.

    ``FD = ||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^{1/2})`` between
    Gaussians fitted to the features of the real and the generated (fake)
    images (:func:`mmmix.ops.frechet_distance`, float64). With Inception-v3
    pool features this is the FID; those weights cannot be downloaded here,
    so the feature network is pluggable: raw pixels, or any model (e.g. a
    backbone of a classifier trained on the same dataset) loaded from a
    checkpoint. Values are only comparable for the same feature network,
    image set and sample count (FD is biased upwards for small ``n``).

    Each processed data sample (dict or data sample, e.g. what a GAN's
    ``val_step`` returns) holds ``fake_img`` and, unless ``real_stats`` is
    given, ``real_img``: ``(C, H, W)`` float in ``[-1, 1]``. The metric
    reports ``{prefix_name}`` (default ``'fd'``) and
    ``{prefix_name}_num_samples``, with no ``/`` group, so the best checkpoint
    is kept with ``CheckpointHook(save_best='fd', rule='less')``.

    Args:
        feature_net (dict | nn.Module, optional): ``None`` uses the
            flattened pixels as features. A config is built with the
            ``MODELS`` registry, e.g. ``dict(type='mmpretrain.ResNet_CIFAR',
            depth=18)``. The net is frozen, in eval mode and run under
            ``no_grad``; a tuple/list output (mmpretrain backbones) gives its
            last item, a ``(B, C, H, W)`` output is global-average-pooled,
            anything else is flattened.
        checkpoint (str, optional): weights of ``feature_net``; without it a
            built net keeps its random initialisation (a warning is logged).
        prefix (str): only the checkpoint keys starting with it are loaded,
            with it removed, strictly, e.g. ``'backbone.'`` for the backbone
            of an mmpretrain classifier. An error names it when no key
            matches. Defaults to ``''`` (all keys).
        mean (float | Sequence[float], optional): per-channel mean on the
            0-255 scale, like the data preprocessor's: images are mapped
            ``x -> ((x + 1) * 127.5 - mean) / std``. ``None`` with
            ``std=None`` feeds the ``[-1, 1]`` images unchanged.
        std (float | Sequence[float], optional): per-channel std (0-255).
        to_rgb (bool): reverse the channel order of 3-channel images first
            (BGR -> RGB), as the data preprocessor's ``to_rgb``; ``mean``
            and ``std`` are in the order after it. Defaults to False.
        real_stats (str, optional): ``.npz`` with ``mu`` ``(d,)`` and
            ``sigma`` ``(d, d)`` of the real set's features (e.g. written by
            ``np.savez(path, mu=mu, sigma=sigma)`` from
            :func:`mmmix.ops.feature_statistics`); then ``real_img`` is not
            needed. Without it, the real statistics come from the
            ``real_img`` of the processed samples.
        prefix_name (str): the metric key. Defaults to ``'fd'``.
        eps (float): see :func:`mmmix.ops.frechet_distance`.
        collect_device (str): ``'cpu'`` or ``'gpu'``.
    """
    # '' (not None): no 'group/' before the keys and no mmengine warning
    default_prefix = ''

    def __init__(self,
                 feature_net: Optional[Union[dict, nn.Module]] = None,
                 checkpoint: Optional[str] = None,
                 prefix: str = '',
                 mean: Optional[Union[float, Sequence[float]]] = None,
                 std: Optional[Union[float, Sequence[float]]] = None,
                 to_rgb: bool = False,
                 real_stats: Optional[str] = None,
                 prefix_name: str = 'fd',
                 eps: float = 1e-6,
                 collect_device: str = 'cpu'):
        # BaseMetric's own `prefix` would group the keys as 'x/fd'; here the
        # key is `prefix_name` and `prefix` is the checkpoint-key prefix
        super().__init__(collect_device=collect_device, prefix=None)
        self.prefix = ''
        if not isinstance(prefix_name, str) or not prefix_name:
            raise ValueError('prefix_name must be a non-empty string, got '
                             f'{prefix_name!r}')
        if not isinstance(prefix, str):
            raise ValueError(f'prefix must be a string, got {prefix!r}')
        if (mean is None) != (std is None):
            raise ValueError('mean and std must be given together, got '
                             f'mean={mean!r}, std={std!r}')
        if not eps >= 0:
            raise ValueError(f'eps must be >= 0, got {eps!r}')
        self.prefix_name = prefix_name
        self.ckpt_prefix = prefix
        self.mean = _channel_vector('mean', mean)
        self.std = _channel_vector('std', std)
        if self.std is not None and not bool((self.std > 0).all()):
            raise ValueError(f'std must be > 0, got {std!r}')
        self.to_rgb = bool(to_rgb)
        self.eps = float(eps)
        self.feature_net = self._build_net(feature_net, checkpoint, prefix)
        self.real_stats = real_stats
        self.real_mu = self.real_sigma = None
        if real_stats is not None:
            self.real_mu, self.real_sigma = self._load_stats(real_stats)

    @staticmethod
    def _build_net(feature_net, checkpoint, prefix) -> Optional[nn.Module]:
        if feature_net is None:
            if checkpoint is not None:
                raise ValueError('checkpoint needs a feature_net; got '
                                 'feature_net=None (raw pixels)')
            return None
        if isinstance(feature_net, dict):
            net = MODELS.build(feature_net)
        elif isinstance(feature_net, nn.Module):
            net = feature_net
        else:
            raise TypeError('feature_net must be None, a config dict or an '
                            f'nn.Module, got {type(feature_net).__name__}')
        if checkpoint is None:
            print_log(
                'FrechetDistance: feature_net has no checkpoint, so its '
                'features are those of a randomly initialised network',
                logger='current', level=logging.WARNING)
        else:
            load_prefixed_state_dict(net, checkpoint, prefix)
        net.requires_grad_(False)
        net.eval()  # mmpretrain backbones' train() returns None
        return net

    @staticmethod
    def _load_stats(path: str):
        if not osp.isfile(path):
            raise FileNotFoundError(f'real_stats file {path} not found')
        with np.load(path) as stats:
            if 'mu' not in stats or 'sigma' not in stats:
                raise KeyError(f'real_stats {path} must hold arrays mu and '
                               f'sigma, got {sorted(stats.files)}')
            mu, sigma = stats['mu'], stats['sigma']
        if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
            raise ValueError(f'real_stats {path}: mu must be (d,) and sigma '
                             f'(d, d), got {mu.shape} and {sigma.shape}')
        return (torch.from_numpy(mu.astype(np.float64)),
                torch.from_numpy(sigma.astype(np.float64)))

    def _images(self, data_samples, key: str) -> torch.Tensor:
        imgs = []
        for sample in data_samples:
            img = _field(sample, key)
            if img is None:
                hint = ('' if key == 'fake_img' else
                        ' (or give real_stats with precomputed statistics)')
                raise KeyError(f'FrechetDistance needs {key} in every data '
                               f'sample{hint}')
            img = torch.as_tensor(img)
            if img.dim() != 3:
                raise ValueError(f'{key} must be (C, H, W), got shape '
                                 f'{tuple(img.shape)}')
            imgs.append(img)
        return torch.stack(imgs).float()

    def features(self, imgs: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` float32 features of images ``(B, C, H, W)`` in
        ``[-1, 1]``."""
        x = imgs.float()
        if self.to_rgb and x.shape[1] == 3:
            x = x.flip(1)
        if self.mean is not None:
            for name, v in (('mean', self.mean), ('std', self.std)):
                if len(v) not in (1, x.shape[1]):
                    raise ValueError(
                        f'{name} has {len(v)} values but the images have '
                        f'{x.shape[1]} channels')
            x = ((x + 1) * 127.5 - self.mean.to(x.device)) / self.std.to(
                x.device)
        if self.feature_net is None:
            return x.flatten(1)
        net = self.feature_net
        param = next(iter(net.parameters()), None)
        if param is not None and param.device != x.device:
            net.to(x.device)
        net.eval()
        with torch.no_grad():
            out = net(x)
        if isinstance(out, (tuple, list)):
            out = out[-1]
        if out.dim() == 4:
            out = out.mean(dim=(2, 3))
        return out.flatten(1).float()

    def process(self, data_batch, data_samples: Sequence) -> None:
        fake = self.features(self._images(data_samples, 'fake_img')).cpu()
        if self.real_mu is None:
            real = self.features(self._images(data_samples,
                                              'real_img')).cpu()
        else:
            real = [None] * len(fake)
        for f, r in zip(fake, real):
            self.results.append((f, r))

    def compute_metrics(self, results: List) -> Dict[str, float]:
        n = len(results)
        if n < 2:
            raise ValueError(f'FrechetDistance needs at least 2 samples, got '
                             f'{n}')
        fake_mu, fake_sigma = feature_statistics(
            torch.stack([r[0] for r in results]))
        if self.real_mu is None:
            real_mu, real_sigma = feature_statistics(
                torch.stack([r[1] for r in results]))
        else:
            real_mu, real_sigma = self.real_mu, self.real_sigma
            if real_mu.shape != fake_mu.shape:
                raise ValueError(
                    f'real_stats {self.real_stats} has feature size '
                    f'{real_mu.shape[0]} but the features here have '
                    f'{fake_mu.shape[0]}')
        fd = frechet_distance(real_mu, real_sigma, fake_mu, fake_sigma,
                              eps=self.eps)
        return {self.prefix_name: fd, f'{self.prefix_name}_num_samples': n}
