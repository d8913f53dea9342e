"""Data preprocessor for clips: views of shape (B, T, C, H, W)."""
from typing import Optional, Sequence, Union

import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor

from mmmix.registry import MODELS


@MODELS.register_module()
class VideoSelfSupDataPreprocessor(SelfSupDataPreprocessor):
    """Normalise views of clips, ``(B, T, C, H, W)`` (or images).

    mmpretrain's ``SelfSupDataPreprocessor`` swaps colours with
    ``x[:, [2, 1, 0], ...]``, which on a 5-D clip batch hits the T axis
    (spec 8.4). Here the colour swap and the normalisation both act on the
    channel axis ``-3``, so 5-D clips ``(B, T, C, H, W)`` and 4-D images
    ``(B, C, H, W)`` are handled alike, and every view of a list (e.g.
    DoRA's global and local views, of different sizes) separately.

    :class:`~mmmix.datasets.VideoClipDataset` decodes frames to RGB, so
    clip configs use ``to_rgb=False`` with RGB ``mean``/``std``.

    Args:
        mean (Sequence[float], optional): Per-channel mean (1 or 3 values).
            Defaults to None (no normalisation).
        std (Sequence[float], optional): Per-channel std. Defaults to None.
        pad_size_divisor (int): Kept for compatibility, unused (as in
            ``SelfSupDataPreprocessor``). Defaults to 1.
        pad_value (float | int): Unused. Defaults to 0.
        to_rgb (bool): Reverse the channel order (BGR <-> RGB) on axis -3.
            Defaults to False.
        bgr_to_rgb (bool): Same as ``to_rgb``. Defaults to False.
        rgb_to_bgr (bool): Same as ``to_rgb``. Defaults to False.
        non_blocking (bool): Non-blocking host-to-device copy. Defaults to
            False.
    """

    def __init__(self,
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

    def _process(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in (4, 5):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
            raise ValueError('VideoSelfSupDataPreprocessor expects views of '
                             'shape (B, T, C, H, W) or (B, C, H, W), got '
                             f'{shape}')
        if self._channel_conversion:
            if x.shape[-3] != 3:
                raise ValueError('colour conversion needs 3 channels on '
                                 f'axis -3, got shape {tuple(x.shape)}')
            x = x.flip(-3)
        # cast after the channel conversion (cheaper on uint8)
        x = x.float()
        if self._enable_normalize:
            # mean/std are (C, 1, 1): they broadcast over axis -3
            x = (x - self.mean) / self.std
        return x

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast to the device, swap colours and normalise.

        Args:
            data (dict): A batch from ``default_collate``: ``inputs`` is a
                tensor or a list of view tensors, ``data_samples`` a list.
            training (bool): Unused.

        Returns:
            dict: ``inputs`` (float tensor or list, same structure) and
            ``data_samples``.
        """
        if not isinstance(data, dict):
            raise TypeError('VideoSelfSupDataPreprocessor expects a dict '
                            'batch (use default_collate in the dataloader)')
        data = self.cast_data(data)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = [self._process(x) for x in inputs]
        else:
            inputs = self._process(inputs)
        return {'inputs': inputs, 'data_samples': data.get('data_samples')}
