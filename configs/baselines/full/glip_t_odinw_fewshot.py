# Full fine-tuning, GLIP-T, ODinW few-shot on GLIP's protocol (the schedule of
# configs/sdpt/glip_t_odinw_fewshot.py) with GLIP's recipe for TUNING_HIGHLEVEL_OVERRIDE
# full (benchmarks/glip_fewshot_protocol.md, section 5): AdamW, lr 1e-4 (the GLIP-T yaml's
# SOLVER.BASE_LR), the language model at 1e-5 (SOLVER.LANG_LR), weight decay 0.05 (the
# README's command), biases at 2x the rate without decay (BIAS_LR_FACTOR 2,
# WEIGHT_DECAY_BIAS 0), gradient clip 1.0 (inherited). One difference: GLIP multiplies both
# for the language model's biases (2e-5); mmengine's custom_keys take one key per parameter,
# so they train at 1e-5 here.
_base_ = '../../sdpt/glip_t_odinw_fewshot.py'

method = 'full'
model = dict(tuner=dict(_delete_=True, type='FullFineTuning'))
optim_wrapper = dict(
    optimizer=dict(lr=1e-4, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={'language_model': dict(lr_mult=0.1),
                                    'bias': dict(lr_mult=2.0, decay_mult=0.0)}))
work_dir = ('./work_dirs/glip_t_odinw_fewshot_full/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
