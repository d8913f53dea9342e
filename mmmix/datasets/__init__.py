from .clim_pair import CLIMPairDataset
from .dml import CUB200DML, SOPDML, Cars196DML, FashionMNISTZeroShot, InShopDML
from .fashion_mnist import FashionMNIST, read_idx
from .noise import NoiseDataset
from .samplers import ClassBalancedSampler
from .transforms import (
    ClipMultiView,
    ClipRandomFlip,
    ClipRandomResizedCrop,
    FrameWise,
    MultiResolutionViews,
    PackClipInputs,
)
from .video import VideoClipDataset, WalkingToursDataset

__all__ = [
    'FashionMNIST', 'read_idx', 'NoiseDataset', 'CUB200DML', 'Cars196DML',
    'SOPDML', 'InShopDML', 'FashionMNISTZeroShot', 'ClassBalancedSampler',
    'MultiResolutionViews', 'CLIMPairDataset', 'VideoClipDataset',
    'WalkingToursDataset', 'ClipRandomResizedCrop', 'ClipRandomFlip',
    'FrameWise', 'ClipMultiView', 'PackClipInputs'
]
