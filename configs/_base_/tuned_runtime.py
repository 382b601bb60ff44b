# Runtime pieces every tuned config shares: register mmdet_sdpt; TunedRunner (atomic
# checkpoints, one run per work dir, data checks); check the frozen set and log the
# trainable table; stop a diverged run; save adapter-only checkpoints of plain data (no
# pickled objects); record what the run cost (<work_dir>/cost.json).
# (Model bases add optim_wrapper.constructor='TrainableOptimWrapperConstructor' and
# load_from=None.)
custom_imports = dict(imports=['mmdet_sdpt'], allow_failed_imports=False)
runner_type = 'TunedRunner'
custom_hooks = [dict(type='FrozenSetHook'), dict(type='DivergenceGuardHook'),
                dict(type='AdapterCheckpointHook'), dict(type='PlainCheckpointHook'),
                dict(type='RunCostHook')]
