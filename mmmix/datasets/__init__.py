from .clim_pair import CLIMPairDataset
from .dml import CUB200DML, SOPDML, Cars196DML, FashionMNISTZeroShot, InShopDML
from .fashion_mnist import FashionMNIST, read_idx
from .feature_bank import FeatureBank
from .fingerprint import (
    check_fingerprint,
    dataset_fingerprint,
    save_raw_images,
    verify_dataset,
)
from .knn_instance import KNNInstanceDataset, load_knn_graph
from .noise import NoiseDataset
from .samplers import ClassBalancedSampler
from .transforms import (
    ClipMultiView,
    ClipRandomFlip,
    ClipRandomResizedCrop,
    FrameWise,
    KNNReplace,
    LatentTraversalAugment,
    LoadGeneratedView,
    LocalManifoldAugment,
    MultiResolutionViews,
    PackClipInputs,
)
from .video import VideoClipDataset, WalkingToursDataset
from .view_cache import ViewCache, ViewCacheWriter, to_uint8

__all__ = [
    'KNNInstanceDataset', 'load_knn_graph',
    'FashionMNIST', 'read_idx', 'NoiseDataset', 'CUB200DML', 'Cars196DML',
    'SOPDML', 'InShopDML', 'FashionMNISTZeroShot', 'ClassBalancedSampler',
    'MultiResolutionViews', 'CLIMPairDataset', 'VideoClipDataset',
    'WalkingToursDataset', 'ClipRandomResizedCrop', 'ClipRandomFlip',
    'FrameWise', 'ClipMultiView', 'PackClipInputs', 'FeatureBank',
    'dataset_fingerprint', 'check_fingerprint', 'verify_dataset',
    'save_raw_images', 'ViewCache', 'ViewCacheWriter', 'to_uint8',
    'LocalManifoldAugment', 'LoadGeneratedView', 'KNNReplace',
    'LatentTraversalAugment'
]
