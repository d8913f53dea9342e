# In-Shop, every loss: lr 1e-4 (thesis Table 4.2; the official code's
# README uses 6e-4 for MS and PA), lr x 0.25 every 10 epochs (factor: thesis
# §4.4.1; step: assumed). AdamW, 100 epochs: see adamw_step10_100e.py.
_base_ = './adamw_step10_100e.py'

optim_wrapper = dict(optimizer=dict(lr=1e-4))
param_scheduler = dict(gamma=0.25)
