from .dino_optim_wrapper import (
    DINOAmpOptimWrapper,
    DINOOptimWrapper,
    DINOOptimWrapperConstructor,
)
from .gan_optim_constructor import GANOptimWrapperConstructor

__all__ = [
    'GANOptimWrapperConstructor',
    'DINOOptimWrapper', 'DINOAmpOptimWrapper', 'DINOOptimWrapperConstructor'
]
