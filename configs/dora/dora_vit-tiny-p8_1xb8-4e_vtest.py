# DoRA on a real video that installs here: OpenCV's vtest.avi (795 frames,
# 768 x 576, 10 fps, a static camera on pedestrians; `make videos` puts it in
# data/videos/), decoded at 192 x 144, clips of 4 frames 1 s apart (10
# frames), every start frame once per epoch, 4 epochs on a CPU.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/dora_vit-tiny-p8_video.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

max_epochs = {{_base_.dora_tiny_max_epochs}}
model = {{_base_.dora_tiny_model}}
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='VideoClipDataset',
        videos=['data/videos/vtest.avi'],
        num_frames=4,
        stride_seconds=1.0,
        resize_short=144,
        pipeline={{_base_.dora_tiny_pipeline}}))
optim_wrapper = {{_base_.dora_tiny_optim_wrapper}}
param_scheduler = {{_base_.dora_tiny_param_scheduler}}
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
randomness = dict(seed=0, deterministic=False)
