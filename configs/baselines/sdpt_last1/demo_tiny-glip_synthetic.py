# SDPT with prompts in the last fusion layer only (the cost lever of benchmarks/
# tuning_cost.py): the same budget as the demo's 8 tokens x 2 layers, 16 tokens x 1 layer
# (4,096 trainable). Same data, schedule and evaluation as sdpt/demo_tiny-glip_synthetic.py.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(num_tokens=16, layers=[-1]))
