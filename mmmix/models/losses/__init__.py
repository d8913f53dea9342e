from .metrix_loss import MetrixLoss, build_pml

__all__ = ['MetrixLoss', 'build_pml']
