# The compact StyleGAN2-style GAN used for Fashion-MNIST on CPU: 32x32 grey
# images (the 28x28 images centre-padded by 2 with black, the background),
# channels min(512 // r, 32) per resolution r (16 at 32x32, 32 below),
# z 64-d, w 128-d, 2 mapping layers (StyleGAN2-ADA's 'cifar' setting), R1
# gamma 0.01 lazily every 16 D steps, Adam lr 0.0025, betas (0, 0.99) for
# both networks, EMA generator with a 2 kimg half-life and the 0.05 ramp-up.
# Names start with gan_ so that they never clash with an including config.
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

gan_resolution = 32
gan_channels = dict(channel_base=512, channel_max=32)
gan_data_root = '/usr/share/datasets/fashion-mnist'
gan_batch_size = 32
gan_max_iters = 2400
gan_interval = 400

model = dict(
    type='mmmix.GAN',
    generator=dict(
        type='mmmix.StyleGAN2Generator',
        resolution=gan_resolution,
        img_channels=1,
        z_dim=64,
        w_dim=128,
        cond_dim=0,
        mapping_layers=2,
        **gan_channels),
    discriminator=dict(
        type='mmmix.StyleGAN2Discriminator',
        resolution=gan_resolution,
        img_channels=1,
        cond_dim=0,
        mbstd_group_size=4,
        **gan_channels),
    data_preprocessor=dict(
        type='mmmix.GANDataPreprocessor', resolution=gan_resolution,
        pad_value=-1.0),
    r1_gamma=0.01,
    r1_interval=16,
    ema_kimg=2.0,
    ema_rampup=0.05,
    diffaug_policy=None)

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
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
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
