"""Build a stock mmdet detector, let a tuner inject itself, freeze the rest.

``TunedDetector`` is registered in mmdet's ``MODELS`` and returns the detector itself (a
plain ``GLIP``, ``GroundingDINO``...), so parameter names stay mmdet's and a stock checkpoint
loads as it is. A config turns any mmdet detector into a tuned one by changing its ``type``::

    model = dict(type='TunedDetector', detector_type='GLIP',
                 tuner=dict(type='SDPT', num_tokens=8),
                 base_checkpoint='checkpoints/glip_tiny_mmdet-c24ce662.pth',
                 ...)  # every other key: the detector's own config, as in mmdet

Everything happens while the model is built, because mmengine's runner wraps the model
for DDP and builds the optimizer right after: the freeze must already be in place then.
The base weights are loaded here as well: ``tools/test.py CONFIG ADAPTER`` and ``--resume``
replace ``load_from`` by an adapter-only checkpoint, which cannot carry them.
"""
import logging
import os.path as osp
import types
from typing import Optional, Sequence

from mmdet.registry import MODELS
from mmengine.logging import print_log
from torch import nn

from ..adapter import check_loaded_state_dict, load_checks_off, tensors_digest
from ..checkpoint import has_scheme, load_checkpoint_file
from ..ops import use_input_grad_only_dcn
from ..registry import POST_BUILD, TUNERS
from ..utils.logging import quiet_current_logger
from ..prefix_cache import attach_prefix_cache
from .tuner_module import is_tuner_module


class BaseCheckpointError(RuntimeError):
    """The base checkpoint named by the config is missing or does not fit the model."""


@MODELS.register_module()
def TunedDetector(detector_type: str,
                  tuner: dict,
                  base_checkpoint: Optional[str] = None,
                  post_build: Sequence[dict] = (),
                  strict_base: bool = True,
                  allow_base_mismatch: bool = False,
                  input_grad_only_dcn: bool = True,
                  zero_shot: bool = False,
                  prefix_cache: Optional[dict] = None,
                  **detector_cfg) -> nn.Module:
    """Build ``detector_type`` from ``detector_cfg``, apply ``post_build`` edits, inject
    ``tuner``, freeze everything the tuner does not own, and load ``base_checkpoint``.

    Args:
        detector_type (str): registered mmdet detector, e.g. 'GLIP', 'GroundingDINO'.
        tuner (dict): config of a registered tuner, e.g. ``dict(type='SDPT')``.
        base_checkpoint (str, optional): full checkpoint of the base detector (mmdet keys).
        post_build (list[dict]): registered model edits applied right after the build
            (e.g. ``RebuildVLFusion`` for a tiny GLIP); empty for stock models.
        strict_base (bool): the base checkpoint must provide every base tensor.
        allow_base_mismatch (bool): load tuned checkpoints made on another base anyway
            (with a warning) instead of stopping.
        input_grad_only_dcn (bool): frozen mmcv modulated deformable convs (GLIP's DyHead)
            backpropagate to their inputs only, never computing their weights' gradients
            (``mmdet_sdpt.ops.frozen_dcn``); False keeps mmcv's backward.
        zero_shot (bool): switch every tuner module off (the base alone).
        prefix_cache (dict, optional): keep what the frozen modules before the first tuned
            layer compute, per image and prompt (``mmdet_sdpt.prefix_cache``:
            ``max_bytes``, ``device``, ``dtype``, ``log_interval``); refused for tuners
            that train anything there.
    """
    detector = MODELS.build(dict(type=detector_type, **detector_cfg))
    for edit in post_build:
        POST_BUILD.build(edit)(detector)
    # Initialise now, with the tuner's tensors absent (they initialise themselves), then
    # load the base: the runner's later init_weights() must not overwrite loaded weights.
    with quiet_current_logger():  # outside a runner it would print one line per tensor
        detector.init_weights()
    # The runner calls init_weights() again before training; some detectors (DINO-style
    # ones: Grounding DINO) re-initialise parts unconditionally there, which would
    # overwrite the base weights loaded below. Initialised once, here, is enough.
    detector.init_weights = types.MethodType(_initialised_at_build, detector)
    detector = attach_tuner(detector, TUNERS.build(tuner))
    if input_grad_only_dcn:
        use_input_grad_only_dcn(detector)
    detector.allow_base_mismatch = allow_base_mismatch
    if base_checkpoint:
        load_base_checkpoint(detector, base_checkpoint, strict=strict_base)
    if zero_shot:
        switch_off_tuner(detector)
    if prefix_cache is not None:
        attach_prefix_cache(detector, **prefix_cache)
    return detector


def switch_off_tuner(detector: nn.Module) -> None:
    """Zero-shot for good: every tuner module computes nothing (as inside the tuner's
    ``disabled()``), and loads of state dicts without tuned tensors are allowed."""
    for module in detector.tuner.switchable_modules(detector):
        module.enabled = False
    detector.zero_shot = True
    print_log(f'{type(detector).__name__}: zero-shot, the {detector.tuner.method} tuner is '
              'switched off', logger='current')


def _initialised_at_build(self) -> None:
    print_log(f'{type(self).__name__} was initialised when it was built (TunedDetector): '
              'init_weights() skipped', logger='current', level=logging.DEBUG)


def attach_tuner(detector: nn.Module, tuner) -> nn.Module:
    """Inject ``tuner`` into ``detector``, freeze all else, keep frozen modules in eval."""
    tuner.inject(detector)
    tuner.owned_prefixes = tuple(n for n, m in detector.named_modules()
                                 if is_tuner_module(m))
    detector.tuner = tuner  # plain attribute: not a submodule, adds no parameter names
    for name, param in detector.named_parameters():
        param.requires_grad_(tuner.trainable(name))
    detector.train = types.MethodType(_train_keeping_frozen_eval, detector)
    detector.register_load_state_dict_pre_hook(check_loaded_state_dict)
    detector.register_load_state_dict_post_hook(_adapter_only_is_complete)
    detector.train(detector.training)
    return detector


def training_modules(model: nn.Module) -> set:
    """Paths of the modules that run in training mode when the model trains: the tuner's
    own modules, and base modules holding (directly or below them) a trainable tensor."""
    tuner_paths = {n for n, m in model.named_modules() if is_tuner_module(m)}
    paths = {''}  # the detector itself reports the mode it was set to
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        parts = name.split('.')[:-1]
        prefixes = ['.'.join(parts[:i]) for i in range(len(parts) + 1)]
        owner = next((p for p in prefixes if p in tuner_paths), None)
        if owner is not None:  # a tuner tensor: its module trains, its base parent need not
            paths.add(owner)
        else:
            paths.update(prefixes)
    return paths


def _train_keeping_frozen_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    # mmengine's loops call model.train() every epoch and after each validation. Frozen
    # modules stay in eval mode (no dropout, drop-path, DropBlock, BN statistics updates),
    # prompted attention modules included: their own weights are frozen, so a tuned model
    # computes exactly what the frozen model computes, plus the tuner's effect.
    nn.Module.train(self, mode)
    if mode:
        keep = training_modules(self)
        for name, module in self.named_modules():
            module.training = name in keep
    return self


def _adapter_only_is_complete(module: nn.Module, incompatible_keys) -> None:
    """Loading an adapter-only checkpoint (resume, tools/test.py) misses every base tensor
    by design: they come from ``base_checkpoint``. Do not report them as missing; nor the
    tuned tensors a zero-shot model (its tuner off) loads the base without."""
    tuner = module.tuner
    missing = incompatible_keys.missing_keys
    if getattr(module, 'zero_shot', False):
        missing[:] = [k for k in missing if not tuner.owns(k)]
        return
    tuned_missing = [k for k in missing if tuner.trainable(k)]
    tuned_total = [k for k in module.state_dict() if tuner.trainable(k)]
    if tuned_total and not tuned_missing:
        missing[:] = [k for k in missing if tuner.trainable(k)]


def load_base_checkpoint(detector: nn.Module, path: str, strict: bool = True) -> None:
    """Load a full checkpoint of the base detector (not the tuner's tensors) into it.
    ``path`` is a local file or a URL (``https://``, ...: downloaded to torch hub's cache
    and read by the same safe loader)."""
    if not has_scheme(path) and not osp.isfile(path):
        raise BaseCheckpointError(
            f'base checkpoint {path!r} not found. Set it with '
            f'--cfg-options model.base_checkpoint=/path/to/base.pth (a full mmdet '
            f'checkpoint of the base detector; official GLIP weights: convert them with '
            f'tools/model_converters/glip_to_mmdet.py).')
    ckpt = load_checkpoint_file(path, map_location='cpu')
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    tuner = detector.tuner
    own = detector.state_dict()
    # every base tensor comes from the base checkpoint, the ones that train included
    # (linear probe, BitFit, full tuning); only the tuner's own added tensors do not
    mismatched = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}'
                  for k, v in state.items()
                  if k in own and not tuner.owns(k) and own[k].shape != v.shape]
    if mismatched:
        raise BaseCheckpointError(
            f'base checkpoint {path!r} does not fit this {type(detector).__name__}: '
            f'{len(mismatched)} tensors differ in shape, e.g. {mismatched[:3]}. '
            'Use the base checkpoint made for this model config.')
    base_state = {k: v for k, v in state.items() if not tuner.owns(k)}
    with load_checks_off(detector):  # a base has no tuned tensors of its own
        result = detector.load_state_dict(base_state, strict=False)
    tuned = sorted(n for n in detector.state_dict() if tuner.trainable(n))
    if tuned and not any(tuner.owns(n) for n in tuned):
        # the tuned tensors are base tensors (linear probe, BitFit, full): remember the
        # base's values, so a "tuned" checkpoint that merely repeats them is told apart
        detector.base_tuned_digest = tensors_digest(detector.state_dict(), tuned)
    missing = [k for k in result.missing_keys
               if not tuner.owns(k) and 'num_batches_tracked' not in k]
    if missing and strict:
        raise BaseCheckpointError(
            f'base checkpoint {path!r} lacks {len(missing)} tensors of this '
            f'{type(detector).__name__}, e.g. {missing[:3]}. Use the base checkpoint made '
            'for this model config, or set model.strict_base=False to load it anyway.')
    if missing or result.unexpected_keys:
        print_log(f'base checkpoint {path}: {len(missing)} missing, '
                  f'{len(result.unexpected_keys)} unexpected tensors '
                  f'(e.g. {(missing + result.unexpected_keys)[:3]})',
                  logger='current', level=30)
    print_log(f'Loaded base weights of {type(detector).__name__} from {path}',
              logger='current')
