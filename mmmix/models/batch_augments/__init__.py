from .align_mix import AlignMix
from .multimix import DenseMultiMix, MultiMix

__all__ = ['AlignMix', 'MultiMix', 'DenseMultiMix']
