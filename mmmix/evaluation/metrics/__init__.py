from .calibration import CalibrationError
from .frechet import FrechetDistance
from .knn import KNNAccuracy
from .multi_layer_accuracy import MultiLayerAccuracy
from .ood import OODDetection
from .retrieval import RetrievalRecall

__all__ = [
    'KNNAccuracy', 'CalibrationError', 'OODDetection', 'RetrievalRecall',
    'MultiLayerAccuracy', 'FrechetDistance'
]
