from .calibration import CalibrationError
from .knn import KNNAccuracy
from .ood import OODDetection

__all__ = ['KNNAccuracy', 'CalibrationError', 'OODDetection']
