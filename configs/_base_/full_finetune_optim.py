# Full fine-tuning's optimizer for the GLIP-T/GLIP-L rows of configs/baselines/full/, as
# mmdet's GLIP-T fine-tune config: AdamW 1e-5, weight decay 0.05, no decay on norms and
# position tables (the rows' gradient clip, 1.0, comes from the SDPT config they inherit).
# A row takes it with `optim_wrapper = _base_.full_finetune_optim_wrapper`.
full_finetune_optim_wrapper = dict(
    optimizer=dict(lr=1e-5, weight_decay=0.05),
    paramwise_cfg=dict(custom_keys={
        'absolute_pos_embed': dict(decay_mult=0.),
        'relative_position_bias_table': dict(decay_mult=0.),
        'norm': dict(decay_mult=0.)
    }))
