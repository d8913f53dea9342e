from .gan import GAN, GANDataPreprocessor, center_pad_or_crop
from .stylegan2 import (
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    minibatch_stddev,
)

__all__ = [
    'StyleGAN2Generator', 'StyleGAN2Discriminator', 'minibatch_stddev',
    'GAN', 'GANDataPreprocessor', 'center_pad_or_crop'
]
