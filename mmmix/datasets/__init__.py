from .fashion_mnist import FashionMNIST, read_idx

__all__ = ['FashionMNIST', 'read_idx']
