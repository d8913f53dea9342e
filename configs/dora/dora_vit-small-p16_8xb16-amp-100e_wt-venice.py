# DoRA ViT-S/16 on WT_Venice (one Walking Tours video, ~198k frames): the
# released code's one-global-view preset (teacher and masked student share
# the view). An epoch visits every start frame once (~197k clips, ~1.5k
# iterations at 8 x 16 clips; 154k iterations in 100 epochs). Put the
# video (or the frame index of tools/dataset_converters/build_frame_index.py
# with --extract, recommended for 4K sources) under data/walking_tours/.
_base_ = [
    'mmpretrain::_base_/default_runtime.py',
    './_base_/dora_vit-small-p16_wt.py',
]
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

model = {{_base_.dora_model}}
train_dataloader = dict(
    batch_size=16,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='WalkingToursDataset',
        data_root='data/walking_tours/Venice.mp4',
        num_frames=8,
        stride_seconds=1.0,  # the README's commands: stride_frames=60
        pipeline={{_base_.dora_clip_pipeline}}))
# the two-view preset's pipeline (dora-2view_...): the same with 2 globals
dora_clip_pipeline_2view = {{_base_.dora_clip_pipeline_2view}}
optim_wrapper = {{_base_.dora_optim_wrapper}}
param_scheduler = {{_base_.dora_param_scheduler}}
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=100)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=3))
randomness = dict(seed=0, deterministic=False)
auto_scale_lr = dict(base_batch_size=128)
