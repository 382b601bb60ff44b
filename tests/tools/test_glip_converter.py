"""tools/model_converters/glip_to_mmdet.py on the tiny GLIP: its mmdet state dict renamed
the official (maskrcnn-benchmark GLIP) way, converted back by the tool, must load strictly
and hold the same tensors.

The official names are the inverse of mmdet's converter (mmdet/.mim/tools/model_converters/
glip_to_mmdet.py), read off its ``convert``:
- ``backbone.`` <- ``module.backbone.body.``, with ``stages`` <- ``layers``,
  ``patch_embed.projection`` <- ``patch_embed.proj``, ``attn.w_msa`` <- ``attn``,
  ``ffn.layers.0.0`` <- ``mlp.fc1``, ``ffn.layers.1`` <- ``mlp.fc2``; the patch-merging
  ``downsample.reduction`` weight and ``downsample.norm`` tensors are also permuted by
  mmdet (``correct_unfold_*_order``, a fixed permutation of the 4 merged patches), undone
  here with the inverse permutation;
- ``neck.*`` <- ``module.backbone.fpn.*`` through mmdet's ``convert_dict_fpn`` (reversed);
- ``language_model.language_backbone`` <- ``module.language_backbone``;
- ``bbox_head.`` <- ``module.rpn.``, with ``dyconvs`` <- ``DyConv``, ``attnconv`` <- ``AttnConv``.
Every tensor of the tiny GLIP is covered (the test checks it): the mapping is invertible
on mmdet's GLIP. What mmdet drops (anchor generator, cls_logits, BERT pooler) is added to
the official file and must not come back.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch

from tests.helpers import ROOT

TOOL = osp.join(ROOT, 'tools', 'model_converters', 'glip_to_mmdet.py')
DROPPED_BY_MMDET = ('module.rpn.anchor_generator.cell_anchors.0',
                    'module.rpn.head.cls_logits.weight',
                    'module.language_backbone.body.model.pooler.dense.weight')


def _mmdet_fpn_names():
    import runpy
    import mmdet
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'tools', 'model_converters',
                    'glip_to_mmdet.py')
    return runpy.run_path(path, run_name='mmdet_glip_to_mmdet')['convert_dict_fpn']


def _unpermute_reduction(w):  # inverse of mmdet's correct_unfold_reduction_order
    out_c, in_c = w.shape
    w = w.reshape(out_c, in_c // 4, 4).transpose(1, 2)
    return w[:, [0, 2, 1, 3], :].reshape(out_c, in_c)


def _unpermute_norm(w):  # inverse of mmdet's correct_unfold_norm_order
    in_c = w.shape[0]
    w = w.reshape(in_c // 4, 4).transpose(0, 1)
    return w[[0, 2, 1, 3], :].reshape(in_c)


def to_official(state):
    fpn = {mm: official for official, mm in _mmdet_fpn_names().items()}
    out = {}
    for key, value in state.items():
        if key.startswith('backbone.'):
            new = 'module.backbone.body.' + key[len('backbone.'):]
            for mm, official in (('patch_embed.projection', 'patch_embed.proj'),
                                 ('ffn.layers.0.0', 'mlp.fc1'), ('ffn.layers.1', 'mlp.fc2'),
                                 ('attn.w_msa', 'attn'), ('stages', 'layers')):
                new = new.replace(mm, official)
            if 'downsample.reduction.' in key:
                value = _unpermute_reduction(value)
            elif 'downsample.norm.' in key:
                value = _unpermute_norm(value)
        elif key.startswith('neck.'):
            module, leaf = key.rsplit('.', 1)
            new = f'{fpn[module]}.{leaf}'
        elif key.startswith('language_model.language_backbone.'):
            new = key.replace('language_model.language_backbone', 'module.language_backbone')
        elif key.startswith('bbox_head.'):
            new = ('module.rpn.' + key[len('bbox_head.'):]).replace(
                'dyconvs', 'DyConv').replace('attnconv', 'AttnConv')
        else:
            raise AssertionError(f'{key}: not covered by mmdet\'s GLIP mapping')
        out[new] = value.clone()
    return out


@pytest.fixture(scope='module')
def converted(build_tiny, tmp_path_factory):
    model = build_tiny(seed=0, tuner=dict(layers=[]))  # no prompts: a plain GLIP's tensors
    state = model.state_dict()
    official = to_official(state)
    assert len(official) == len(state)
    for key in DROPPED_BY_MMDET:
        official[key] = torch.zeros(2)
    root = tmp_path_factory.mktemp('convert')
    src, dst = str(root / 'glip_official.pth'), str(root / 'glip_mmdet.pth')
    torch.save({'model': official, 'iteration': 1000}, src)
    res = subprocess.run([sys.executable, TOOL, src, dst], capture_output=True, text=True,
                         cwd=ROOT, env=dict(os.environ, PYTHONWARNINGS='ignore'))
    assert res.returncode == 0, res.stderr[-3000:]
    return state, official, dst, res.stdout


def test_official_names_differ_where_mmdet_renames_and_permutes(converted):
    state, official, _, _ = converted
    assert not set(state) & set(official)
    reduction = [k for k in state if 'downsample.reduction.weight' in k]
    assert reduction and not any(
        torch.equal(state[k], official[k.replace('backbone.stages', 'module.backbone.body.layers')])
        for k in reduction)


def test_converted_checkpoint_loads_strictly_with_equal_tensors(converted, build_tiny):
    from mmengine.runner import load_checkpoint
    state, _, dst, log = converted
    ckpt = torch.load(dst, weights_only=False)
    assert set(ckpt['state_dict']) == set(state)  # what mmdet drops is gone
    assert f'{len(state)} tensors converted, {len(DROPPED_BY_MMDET)} dropped' in log
    model = build_tiny(seed=1, tuner=dict(layers=[]))  # other random weights
    assert not all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    load_checkpoint(model, dst, map_location='cpu', strict=True)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_converted_checkpoint_is_a_base_checkpoint_for_sdpt(converted, build_tiny):
    state, _, dst, _ = converted
    tuned = build_tiny(seed=1, base_checkpoint=dst)  # prompts + the converted base, strict
    own = tuned.state_dict()
    assert any('.sdpt.' in k for k in own)
    assert all(torch.equal(own[k], v) for k, v in state.items())
