from .clim_heads import MixedContrastiveHead, MixedLatentPredictHead

__all__ = ['MixedContrastiveHead', 'MixedLatentPredictHead']
