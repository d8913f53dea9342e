from .clim_hook import CLIMHook
from .generated_views_hook import GeneratedViewsHook
from .interclr_hook import InterCLRHook, MemoryBankHook
from .knn_hook import KNNEvalHook
from .logger_hook import LoggerHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'GeneratedViewsHook',
    'CLIMHook', 'InterCLRHook', 'KNNEvalHook', 'LoggerHook',
    'MemoryBankHook', 'RNGStateHook'
]
