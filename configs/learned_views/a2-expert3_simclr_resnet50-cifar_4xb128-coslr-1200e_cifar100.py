# 'expert, expert, expert' + A2 (Table 3 row 6) on CIFAR-100: the A2 loss with
# a THIRD expert view in the generated slot (no generator), the control that
# isolates the value of the generated views. Recipe:
# simclr_resnet50-cifar_4xb128-coslr-1200e_cifar100.py.
_base_ = ['./_base_/cifar100_supcon.py']

train_dataloader = dict(
    dataset=dict(pipeline={{_base_.expert3_pipeline}}))
model = dict(base_loss='infonce')  # A2-InfoNCE (Table 11, spec A10)
