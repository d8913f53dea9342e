# CUB200 and Cars196 with MS, Proxy Anchor and ProxyNCA++: lr 1e-4 (thesis
# Table 4.2), lr x 0.5 every 10 epochs (factor: thesis §4.4.1 for MS and PA,
# assumed for ProxyNCA++; step: assumed). AdamW, 100 epochs: see
# adamw_step10_100e.py.
_base_ = './adamw_step10_100e.py'

optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = dict(gamma=0.5)
