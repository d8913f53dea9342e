from .pseudo_label_memory import PseudoLabelMemory

__all__ = ['PseudoLabelMemory']
