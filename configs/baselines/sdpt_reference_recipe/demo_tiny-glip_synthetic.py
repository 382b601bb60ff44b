# The SDPT reference README's recipe: prompts plus everything its command leaves
# trainable (K as the default row here; the README uses K=700 on GLIP-L), LR 1e-5 as there.
# Same data, schedule and evaluation as sdpt/demo_tiny-glip_synthetic.py.
_base_ = '../../sdpt/demo_tiny-glip_synthetic.py'

model = dict(tuner=dict(extra_trainable=[
        # the reference README's command (GLIP-L, COCO) leaves these trainable besides the
        # prompts: DyConv blocks, the head's BERT layers, box/class/centerness heads
        r'bbox_head\.head\.dyhead_tower\.\d+\.(dyconvs|attnconv|offset|relu)\.',
        r'bbox_head\.head\.dyhead_tower\.\d+\.(attention|intermediate|output)\.',
        r'bbox_head\.head\.(bbox_pred|centerness|dot_product_projection_text|scales)\.',
        r'bbox_head\.head\.(log_scale|bias_lang|bias0)$']))
optim_wrapper = dict(optimizer=dict(lr=1e-5, weight_decay=0.01))
