from .clip import (
    ClipMultiView,
    ClipRandomFlip,
    ClipRandomResizedCrop,
    FrameWise,
    PackClipInputs,
)
from .multi_resolution import MultiResolutionViews

__all__ = [
    'MultiResolutionViews', 'ClipRandomResizedCrop', 'ClipRandomFlip',
    'FrameWise', 'ClipMultiView', 'PackClipInputs'
]
