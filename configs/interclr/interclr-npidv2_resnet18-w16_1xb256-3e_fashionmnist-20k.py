# NPIDv2 + InterCLR on Fashion-MNIST (CPU), the paper's prototype: the NPIDv2
# Fashion config (npidv2_resnet18-w16_1xb256-3e_fashionmnist-20k.py) with
# the inter-image branch on the same memory (momentum 0.5, the online
# embeddings): online labels, 100 clusters, min_cluster 20, semi-hard
# negatives (K = 1,024 from the top 10% pool), inter margin -0.5,
# lambda = 0.75, temperature 0.1 in both branches.
_base_ = ['./npidv2_resnet18-w16_1xb256-3e_fashionmnist-20k.py']

model = dict(
    type='mmmix.InterCLRNPID',
    inter_head=dict(type='mmmix.MarginNCEHead', temperature=0.1,
                    margin=-0.5),
    memory=dict(num_clusters=100, min_cluster=20),  # + NPIDv2's memory
    intra_weight=0.75,
    num_negatives=1024,
    neg_strategy='semihard',
    pool_ratio=0.1,
    label_update='online')
custom_hooks = [{{_base_.fmnist_knn_hook}}, {{_base_.interclr_fmnist_hook}}]
