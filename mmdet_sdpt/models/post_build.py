"""Small, named edits of a freshly built mmdet detector (``post_build`` of TunedDetector).

mmdet's GLIP fixes some sizes that make a tiny test/demo GLIP slow or impossible: its
``VLFuse`` always has l_dim 768 / embed_dim 2048, and ``ATSSVLFusionHead`` never passes
``use_dcn`` down (deformable convs always). Each edit replaces mmdet modules by mmdet
modules built with other arguments; none copies mmdet code.
"""
from typing import Optional

from mmdet.models.utils.vlfuse_helper import VLFuse
from mmcv.ops import ModulatedDeformConv2d
from torch import nn

from ..registry import POST_BUILD


def _fusion_tower(detector: nn.Module):
    head = getattr(getattr(detector, 'bbox_head', None), 'head', None)
    tower = getattr(head, 'dyhead_tower', None)
    if tower is None:
        raise ValueError(f'{type(detector).__name__} has no GLIP fusion head '
                         '(bbox_head.head.dyhead_tower)')
    return head, tower


@POST_BUILD.register_module()
class RebuildVLFusion:
    """Replace each ``VLFuse`` of a GLIP head by one of other dims.

    Args:
        embed_dim (int): the fusion attention's aligned space (mmdet: 2048).
        num_heads (int): attention heads (mmdet: 8).
        l_dim (int, optional): text width; default: the head's language width (BERT hidden).
        v_dim (int): visual width (mmdet: 256; must equal the head's feat_channels).
    """

    def __init__(self, embed_dim: int = 2048, num_heads: int = 8,
                 l_dim: Optional[int] = None, v_dim: int = 256):
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.l_dim, self.v_dim = l_dim, v_dim

    def __call__(self, detector: nn.Module) -> None:
        head, tower = _fusion_tower(detector)
        l_dim = self.l_dim or head.lang_dim
        for i, module in enumerate(tower):
            if isinstance(module, VLFuse):
                tower[i] = VLFuse(v_dim=self.v_dim, l_dim=l_dim, embed_dim=self.embed_dim,
                                  num_heads=self.num_heads,
                                  use_checkpoint=module.use_checkpoint)


@POST_BUILD.register_module()
class DisableDCN:
    """Replace the deformable convs of GLIP's DyConv blocks by plain 3x3 convs.

    ``ATSSVLFusionHead`` builds its ``VLFusionModule`` with ``use_dcn=True`` whatever the
    config says; deformable convs roughly triple a tiny GLIP's step time on CPU.
    """

    def __call__(self, detector: nn.Module) -> None:
        _, tower = _fusion_tower(detector)
        for module in tower.modules():
            if hasattr(module, 'offset') and hasattr(module, 'dyconvs'):
                module.offset = None  # DyConv: no offsets/masks passed to its convs
            conv = getattr(module, 'conv', None)
            if isinstance(conv, ModulatedDeformConv2d):
                module.conv = nn.Conv2d(conv.in_channels, conv.out_channels,
                                        conv.kernel_size, conv.stride, conv.padding,
                                        groups=conv.groups, bias=conv.bias is not None)
