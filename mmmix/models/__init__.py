"""Registered modules (backbones, necks, heads, losses, classifiers, selfsup).

Method components are added here by the method issues; the foundation uses
mmpretrain's models unchanged.
"""
