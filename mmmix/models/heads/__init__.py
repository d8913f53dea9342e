from .clim_heads import MixedContrastiveHead, MixedLatentPredictHead
from .margin_nce_head import MarginNCEHead
from .multi_layer_linear_head import MultiLayerLinearHead

__all__ = [
    'MixedContrastiveHead', 'MixedLatentPredictHead', 'MarginNCEHead',
    'MultiLayerLinearHead'
]
