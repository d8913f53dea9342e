from .clim_hook import CLIMHook
from .knn_hook import KNNEvalHook
from .logger_hook import LoggerHook
from .rng_state_hook import RNGStateHook

__all__ = ['CLIMHook', 'KNNEvalHook', 'LoggerHook', 'RNGStateHook']
