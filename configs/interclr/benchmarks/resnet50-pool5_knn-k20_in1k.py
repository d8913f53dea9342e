# ImageNet-1k weighted k-NN of a frozen InterCLR ResNet-50 on pool5 (the
# pooled 2048-d res5 features, L2-normalised; k = 10, 20, 100, 200, votes
# exp(cos / 0.07)): CLIM's k-NN config (../../clim/benchmarks/
# resnet50_knn-k20_in1k.py, see there for the protocol) pointed at the
# MoCo v2 + InterCLR run. The paper reports no k-NN. Every InterCLR model
# keeps its query / online encoder under `backbone.`; another run:
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=work_dirs/<run>/epoch_200.pth
_base_ = '../../clim/benchmarks/resnet50_knn-k20_in1k.py'

checkpoint = ('work_dirs/interclr-mocov2_resnet50_8xb32-coslr-200e_in1k/'
              'epoch_200.pth')
model = dict(backbone=dict(init_cfg=dict(checkpoint=checkpoint)))
