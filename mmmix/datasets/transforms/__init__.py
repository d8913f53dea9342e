from .multi_resolution import MultiResolutionViews

__all__ = ['MultiResolutionViews']
