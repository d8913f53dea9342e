import json

import cv2
import numpy as np

from tests.test_tools.test_train_args import load_tool

CONFIG = 'configs/dora/dora_vit-tiny-p8_1xb8-4e_vtest.py'


def _write_video(path, frames=50, size=(96, 128), fps=10):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps,
                             (size[1], size[0]))
    for i in range(frames):
        img = np.full(size + (3, ), 60, np.uint8)
        img[20:50, 10 + i:40 + i] = (0, 0, 255)
        img[60:90, 80 - i:110 - i] = (0, 255, 0)
        writer.write(img)
    writer.release()


def test_dora_tracking_figure(tmp_path, capsys):
    video, out = tmp_path / 'clip.avi', tmp_path / 'tracks.png'
    _write_video(video)
    tool = load_tool('analysis/dora_tracking.py')
    tool.main([CONFIG, '--out', str(out), '--video', str(video), '--clips',
               '0', '5', '--cfg-options',
               'train_dataloader.dataset.resize_short=None'])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    img = cv2.imread(str(out))
    assert img is not None and img.shape[0] > img.shape[1]
    assert set(summary) == {'0', '5'}
    cov = np.array(summary['0']['coverage'])
    assert cov.shape == (4, 3)  # 4 frames x 3 objects
    assert ((cov > 0) & (cov <= 1)).all()  # never an empty mask


def test_train_curves(tmp_path, capsys):
    run = tmp_path / 'run' / '20260101_000000' / 'vis_data'
    run.mkdir(parents=True)
    with open(run / 'scalars.json', 'w') as f:
        for step in range(1, 6):
            f.write(json.dumps(dict(step=step * 10, loss=5. - step,
                                    teacher_entropy=2. + step)) + '\n')
        f.write(json.dumps(dict(step=50, accuracy=1.)) + '\n')
    tool = load_tool('analysis/train_curves.py')
    out = tmp_path / 'curves.png'
    tool.main([str(tmp_path / 'run'), '--keys', 'loss', 'teacher_entropy',
               '--out', str(out), '--smooth', '2'])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out.is_file()
    assert summary['run']['loss'] == dict(first=4., last=0., points=5)
    assert summary['run']['teacher_entropy']['last'] == 7.
    assert tool.moving_average([1., 3., 5.], 2) == [1., 2., 4.]
