"""Registries of mmdet-sdpt.

Detectors, hooks and optimizer constructors go into mmdet's own registries (configs
inherited from mmdet carry ``_scope_='mmdet'``). Two small registries of our own hold what
mmdet has no place for: parameter-efficient *tuners* and *post-build* model edits.
"""
from mmengine.registry import Registry

# scope 'mmdet': built while mmdet is the default scope (configs inherited from mmdet)
TUNERS = Registry('tuner', scope='mmdet', locations=['mmdet_sdpt.models'])
POST_BUILD = Registry('post-build model edit', scope='mmdet', locations=['mmdet_sdpt.models'])
