# StyleGAN2-ADA's 'cifar' setting (spec lma.md 2.5 [EXT]) on the compact
# StyleGAN2-style GAN of mmmix: 32 px colour images, z and w 512-d, 2
# mapping layers, 512 channels at every resolution (fmaps = 1), minibatch
# std groups of 32, batch 64, Adam lr 0.0025 betas (0, 0.99) for both
# networks, R1 gamma 0.01 lazily every 16 D steps, EMA half-life 500 kimg
# with the 0.05 ramp-up, 100,000 kimg (1.5625M iterations), a snapshot
# every 200 kimg. Unconditional here (cond_dim 0); the IC-GAN configs set
# cond_dim to the feature size.
#
# Not reproduced (spec A7; see configs/lma/README.md): ADA (here DiffAugment
# 'color,translation,cutout' on real and fake images is the data-efficient
# stand-in), the 'orig' discriminator (mmmix's is residual), FIR resampling,
# fp16 layers and conv clamping, lazy-regularisation lr / beta rescaling.
# Names start with gan_ so that they never clash with an including config.
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

gan_resolution = 32
gan_channels = dict(channel_base=32768, channel_max=512)
gan_batch_size = 64
gan_kimg = 100000
gan_max_iters = gan_kimg * 1000 // gan_batch_size
gan_interval = 200 * 1000 // gan_batch_size  # a snapshot every 200 kimg

model = dict(
    type='mmmix.GAN',
    generator=dict(
        type='mmmix.StyleGAN2Generator',
        resolution=gan_resolution,
        img_channels=3,
        z_dim=512,
        w_dim=512,
        cond_dim=0,
        mapping_layers=2,
        **gan_channels),
    discriminator=dict(
        type='mmmix.StyleGAN2Discriminator',
        resolution=gan_resolution,
        img_channels=3,
        cond_dim=0,
        mbstd_group_size=32,
        **gan_channels),
    data_preprocessor=dict(
        type='mmmix.GANDataPreprocessor', resolution=gan_resolution),
    r1_gamma=0.01,
    r1_interval=16,
    ema_kimg=500.,
    ema_rampup=0.05,
    diffaug_policy='color,translation,cutout')

gan_adam = dict(type='Adam', lr=0.0025, betas=(0., 0.99), eps=1e-8)
optim_wrapper = dict(
    constructor='mmmix.GANOptimWrapperConstructor',
    generator=dict(type='OptimWrapper', optimizer=gan_adam),
    discriminator=dict(type='OptimWrapper', optimizer=gan_adam))

train_cfg = dict(type='IterBasedTrainLoop', max_iters=gan_max_iters,
                 val_interval=gan_interval)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # the lowest Frechet distance is kept (spec 2.5: "the generator with the
    # lowest FID during training"), plus the latest for resuming
    checkpoint=dict(type='CheckpointHook', by_epoch=False,
                    interval=gan_interval, max_keep_ckpts=1,
                    save_best='fd', rule='less'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
