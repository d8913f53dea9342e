# Proxy Anchor loss (spec §3.2, A8): thesis beta = gamma = 32, m = 0.1 ("as
# reported by the authors"), i.e. PML ProxyAnchorLoss(margin=0.1, alpha=32)
# with one proxy per training class and d = 512. Mixed examples are two-hot
# soft labels seen by the proxies of their two classes (proxy_neg_neg=False;
# an interpretation, PA+Metrix code was never released). The method configs
# set `num_classes` to the dataset's number of training classes and give the
# proxies lr x 100 (the official code's param groups; spec §3.1).
_base_ = './resnet50_metrix.py'

model = dict(
    loss=dict(
        loss=dict(
            _delete_=True,
            type='ProxyAnchorLoss',
            num_classes=None,  # set by the method config
            embedding_size=512,
            margin=0.1,
            alpha=32)))
