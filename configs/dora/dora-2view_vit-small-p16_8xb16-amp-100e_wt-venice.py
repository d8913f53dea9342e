# DoRA ViT-S/16 on WT_Venice, the thesis' Eq. 6.8 preset: two global views
# per clip, each tracked on its own (one head subset shared by both), and
# the teacher's view u paired with the masked crops of the other view v.
_base_ = './dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

model = dict(num_global_views=2)
train_dataloader = dict(
    dataset=dict(pipeline={{_base_.dora_clip_pipeline_2view}}))
