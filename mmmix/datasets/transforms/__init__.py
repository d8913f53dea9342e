from .clip import (
    ClipMultiView,
    ClipRandomFlip,
    ClipRandomResizedCrop,
    FrameWise,
    PackClipInputs,
)
from .generated_views import (
    KNNReplace,
    LatentTraversalAugment,
    LoadGeneratedView,
    LocalManifoldAugment,
    check_generated_view_sources,
)
from .multi_resolution import MultiResolutionViews

__all__ = [
    'MultiResolutionViews', 'ClipRandomResizedCrop', 'ClipRandomFlip',
    'FrameWise', 'ClipMultiView', 'PackClipInputs', 'LocalManifoldAugment',
    'LoadGeneratedView', 'KNNReplace', 'LatentTraversalAugment',
    'check_generated_view_sources'
]
