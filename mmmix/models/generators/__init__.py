from .external import ExternalGenerator, import_factory
from .gan import GAN, GANDataPreprocessor, center_pad_or_crop
from .inversion import LatentEncoder, invert_latents, train_latent_encoder
from .stylegan2 import (
    StyleGAN2Discriminator,
    StyleGAN2Generator,
    minibatch_stddev,
)

__all__ = [
    'ExternalGenerator', 'import_factory',
    'StyleGAN2Generator', 'StyleGAN2Discriminator', 'minibatch_stddev',
    'GAN', 'GANDataPreprocessor', 'center_pad_or_crop',
    'LatentEncoder', 'invert_latents', 'train_latent_encoder'
]
