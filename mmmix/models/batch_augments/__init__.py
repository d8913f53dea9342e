from .align_mix import AlignMix

__all__ = ['AlignMix']
