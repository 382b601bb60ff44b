# The tiny GLIP of the tests with the new tuner instead of SDPT: PYTHONPATH=. python \
#   tools/train.py projects/new_tuner/config.py  (after the data exists: see README.md)
_base_ = '../../configs/sdpt/tiny-glip_shapes.py'

# mmdet_sdpt first (TunedDetector, hooks), then the file that registers TextPrefixTokens
custom_imports = dict(imports=['mmdet_sdpt', 'projects.new_tuner.prefix_tokens'],
                      allow_failed_imports=False)
model = dict(tuner=dict(_delete_=True, type='TextPrefixTokens', num_tokens=8))
optim_wrapper = dict(optimizer=dict(lr=1e-2))
