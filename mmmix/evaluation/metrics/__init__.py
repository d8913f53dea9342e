from .calibration import CalibrationError
from .knn import KNNAccuracy

__all__ = ['KNNAccuracy', 'CalibrationError']
