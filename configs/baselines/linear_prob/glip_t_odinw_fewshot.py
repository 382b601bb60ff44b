# GLIP's linear probe, GLIP-T, ODinW few-shot on GLIP's protocol (the schedule of
# configs/sdpt/glip_t_odinw_fewshot.py) with GLIP's recipe (benchmarks/glip_fewshot_protocol.md,
# section 5): lr 1e-4, weight decay 0.05, biases at 2x without decay.
_base_ = '../../sdpt/glip_t_odinw_fewshot.py'

method = 'linear_prob'
model = dict(tuner=dict(_delete_=True, type='LinearProbe'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
work_dir = ('./work_dirs/glip_t_odinw_fewshot_linear_prob/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
