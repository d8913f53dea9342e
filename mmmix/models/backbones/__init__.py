from .cifar_resnets import PreActResNet, WideResNet

__all__ = ['PreActResNet', 'WideResNet']
