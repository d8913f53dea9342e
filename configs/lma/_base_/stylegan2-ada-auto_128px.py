# StyleGAN2-ADA's 'auto' setting at 128 px on one GPU (spec lma.md 2.5
# [EXT]) on the compact StyleGAN2-style GAN of mmmix: 128 px colour
# images, z and w 512-d, 2 mapping layers, channels min(16384 / r, 512)
# (fmaps = 0.5), batch 32 = max(min(1 x min(4096 / 128, 32), 64), 1),
# minibatch std groups of min(32, 4) = 4, Adam lr 0.0025 betas (0, 0.99)
# for both networks, R1 gamma 0.0002 x 128^2 / 32 = 0.1024 lazily every 16
# D steps, EMA half-life 32 x 10 / 32 = 10 kimg with the 0.05 ramp-up,
# 25,000 kimg (781,250 iterations; the paper's STL-10 duration), a
# snapshot every 200 kimg. Unconditional here (cond_dim 0); the IC-GAN
# configs set cond_dim to the feature size.
#
# Not reproduced (spec A7; see configs/lma/README.md): ADA (here DiffAugment
# 'color,translation,cutout' on real and fake images is the data-efficient
# stand-in), the path-length regulariser and style mixing of 'auto', FIR
# resampling, fp16 layers and conv clamping, lazy-regularisation lr / beta
# rescaling.
# Names start with gan_ so that they never clash with an including config.
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

gan_resolution = 128
gan_channels = dict(channel_base=16384, channel_max=512)
gan_batch_size = 32
gan_kimg = 25000
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
        mbstd_group_size=4,
        **gan_channels),
    data_preprocessor=dict(
        type='mmmix.GANDataPreprocessor', resolution=gan_resolution),
    r1_gamma=0.1024,
    r1_interval=16,
    ema_kimg=10.,
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
