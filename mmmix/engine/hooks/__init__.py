from .clim_hook import CLIMHook
from .interclr_hook import InterCLRHook, MemoryBankHook
from .knn_hook import KNNEvalHook
from .logger_hook import LoggerHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'CLIMHook', 'InterCLRHook', 'KNNEvalHook', 'LoggerHook',
    'MemoryBankHook', 'RNGStateHook'
]
