# DoRA ViT-S/16 on WT_all: the 10 Walking Tours videos (~1.5M frames), clips
# never crossing a video (or, given cuts in the index, a shot) boundary. An
# epoch is every start frame of every video (~11.9k iterations at 8 x 16).
_base_ = './dora_vit-small-p16_8xb16-amp-100e_wt-venice.py'

train_dataloader = dict(
    dataset=dict(data_root='data/walking_tours/frame_index.json'))
