from .fashion_mnist import FashionMNIST, read_idx
from .noise import NoiseDataset

__all__ = ['FashionMNIST', 'read_idx', 'NoiseDataset']
