# AlignMixup/AE on Fashion-MNIST (experimental, spec A3.6 / A8-10): the thesis
# preset plus a fifth, "clean" mode in which a residual decoder reconstructs
# the normalised input from the 128-d embedding (MSE, weight 1); the five
# cases of Alg. 1 are equally likely (the aligned-feature mode counts twice,
# for directions 3.12 and 3.13).
_base_ = './alignmixup_preactresnet18-w16_1xb128-3e_fashionmnist.py'

model = dict(
    mix_probs=[0.2, 0.4, 0.2, 0.2],
    mix_modes=[
        dict(level='input', augment=dict(type='Mixup', alpha=2.0)),
        dict(level='feature', augment=dict(type='AlignMix', alpha=2.0)),
        dict(level='embedding', augment=dict(type='Mixup', alpha=2.0)),
        dict(level='recon'),
    ],
    decoder=dict(
        type='ResidualDecoder',
        in_dim=128,  # 8 * width: the pooled last stage
        out_channels=1,
        out_size=28,
        base_channels=128),
    recon_weight=1.0)
# the decoder is unused in the mixing steps
model_wrapper_cfg = dict(
    type='MMDistributedDataParallel', find_unused_parameters=True)
