from .dino_optim_wrapper import (
    DINOAmpOptimWrapper,
    DINOOptimWrapper,
    DINOOptimWrapperConstructor,
)

__all__ = [
    'DINOOptimWrapper', 'DINOAmpOptimWrapper', 'DINOOptimWrapperConstructor'
]
