# PRE (Pham et al., 2023, prompt learning with a reparameterization encoder) as text-side
# prompts of the fusion layers: embeddings E (K x l_dim) per fusion layer, the prompt
# T = E + up(gelu(down(E))) (residual bottleneck MLP, hidden 64; the paper uses a BiLSTM with a
# residual) appended to the text stream of the fusion attention
# (mmdet_sdpt/models/reparameterized_prompts.py).
# Trainable on GLIP-T (K = 8, 6 layers, l_dim 768): 6 x (8 x 768 + 768 x 64 + 64 + 64 x 768
# + 768) = 6 x 105,280 = 631,680 (0.273% of 231,759,662). Folded after training
# (tools/fold_pre.py) it is 6 x 8 x 768 = 36,864 plain text prompts (0.016%).
# Optimizer: E at SDPT's LR of this row, the encoder's Linears at 0.1x; a starting point.
# K, layers and mask equal SDPT's config of this row, so the folded checkpoint tests with it:
#   python tools/fold_pre.py WORK_DIR/iter_N.pth folded.pth
#   python tools/test.py configs/sdpt/ROW.py folded.pth \
#       --cfg-options model.tuner.projection=none "model.tuner.streams=[text]"
# Same data, schedule (300 iterations, batch 4) and evaluation as
# configs/sdpt/demo_tiny-glip_synthetic.py, for benchmarks/demo_learning.py. On the tiny GLIP
# (2 fusion layers, D 256, l_dim 64, K 8): PRE 17,664 trainable (0.20%) of 8,760,117.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(_delete_=True, type='PRE', num_tokens=8, layers='all', init='uniform',
                        mask='paper', hidden=64))
optim_wrapper = dict(
    optimizer=dict(lr=5e-2, weight_decay=0.0),
    paramwise_cfg=dict(custom_keys={'.pre.down.': dict(lr_mult=0.1),
                                    '.pre.up.': dict(lr_mult=0.1)}))
