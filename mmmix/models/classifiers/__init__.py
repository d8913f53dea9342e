from .mixup_classifier import MixupClassifier, backbone_stages

__all__ = ['MixupClassifier', 'backbone_stages']
