# 'expert, expert, expert' + A2 (Table 3 row 6) on CIFAR-10: the A2 loss with a
# THIRD expert view in the generated slot (no generator), the control that
# isolates the value of the generated views. Recipe:
# simclr_resnet18-cifar_1xb128-coslr-800e_cifar10.py.
_base_ = ['./_base_/cifar10_essl.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.expert3_pipeline}}))
