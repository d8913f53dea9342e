from .avgmax_linear_l2 import AvgMaxPoolLinearL2Neck

__all__ = ['AvgMaxPoolLinearL2Neck']
