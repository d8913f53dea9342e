from .clim_heads import MixedContrastiveHead, MixedLatentPredictHead
from .margin_nce_head import MarginNCEHead

__all__ = [
    'MixedContrastiveHead', 'MixedLatentPredictHead', 'MarginNCEHead'
]
