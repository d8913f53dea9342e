from .clim_heads import MixedContrastiveHead, MixedLatentPredictHead
from .dino_head import DINOHead
from .margin_nce_head import MarginNCEHead
from .multi_layer_linear_head import MultiLayerLinearHead

__all__ = [
    'DINOHead',
    'MixedContrastiveHead', 'MixedLatentPredictHead', 'MarginNCEHead',
    'MultiLayerLinearHead'
]
