# The control of the Fashion-MNIST SimSiam + A2 run
# (a2-wperturb_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py): the same
# model (mmmix.A2SimSiam, alpha 0.5) and schedule, but the third view is a
# third EXPERT view of the real image (the expert pipeline of the baseline)
# instead of a generated one: Table 3 row 6 ("expert, expert, expert", A2)
# of the learned-views paper. It separates what the generator adds from what
# a third view and the alignment term add.
_base_ = ['./a2-wperturb_simsiam_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='MultiView', num_views=3,
             transforms=[{{_base_.fmnist_view_pipeline}}]),
        dict(type='PackInputs'),
    ]))
custom_hooks = [{{_base_.fmnist_knn_hook}}]
