# Runtime pieces every tuned config shares: register mmdet_sdpt, check the frozen set and
# log the trainable table, save adapter-only checkpoints of plain data (no pickled objects).
# (Model bases add optim_wrapper.constructor='TrainableOptimWrapperConstructor' and
# load_from=None.)
custom_imports = dict(imports=['mmdet_sdpt'], allow_failed_imports=False)
custom_hooks = [dict(type='FrozenSetHook'), dict(type='AdapterCheckpointHook'),
                dict(type='PlainCheckpointHook')]
