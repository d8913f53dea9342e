from .knn import KNNAccuracy

__all__ = ['KNNAccuracy']
