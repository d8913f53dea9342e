from .calibration import CalibrationError
from .knn import KNNAccuracy
from .ood import OODDetection
from .retrieval import RetrievalRecall

__all__ = [
    'KNNAccuracy', 'CalibrationError', 'OODDetection', 'RetrievalRecall'
]
