# Runtime of the Metrix paper configs (CUB200, Cars196, SOP, In-Shop):
# mmpretrain's default runtime (mmpretrain::_base_/default_runtime.py)
# written out, with mmmix as the default scope (its registries fall back to
# mmpretrain's and mmengine's).
# - Validation (Recall@K on the test classes) after every epoch and a
#   checkpoint every epoch, as the official Metrix code evaluates every epoch
#   [C]. The code then reports the best test R@1 over the epochs, which is
#   model selection on the test set (spec §4, A15): the best-R@1 checkpoint
#   is kept (save_best) besides the latest one, so report the last-epoch and
#   the best-epoch numbers separately and label them.
# - Seed 0 (assumed; the thesis gives none, the official code uses 1).
custom_imports = dict(imports=['mmmix'], allow_failed_imports=False)
default_scope = 'mmmix'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        interval=1,
        max_keep_ckpts=1,
        save_best='retrieval/R@1',
        rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False),
)

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)

vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)

log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
