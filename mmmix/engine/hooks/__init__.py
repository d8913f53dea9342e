from .knn_hook import KNNEvalHook
from .rng_state_hook import RNGStateHook

__all__ = ['KNNEvalHook', 'RNGStateHook']
