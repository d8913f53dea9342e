from .assimilation import A2FullLoss, AlignmentLoss, CrossViewInfoNCELoss
from .dino_loss import DINOLoss
from .metrix_loss import MetrixLoss, build_pml

__all__ = [
    'DINOLoss', 'MetrixLoss', 'build_pml', 'CrossViewInfoNCELoss',
    'AlignmentLoss', 'A2FullLoss'
]
