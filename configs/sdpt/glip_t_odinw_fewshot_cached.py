# SDPT, GLIP-T, ODinW few-shot, with the prefix cache (model.prefix_cache): the whole budget
# in the last fusion layer (K = 48 x 1 x 2048 = 98,304 trainable, 0.042%), and the state
# that layer receives (Swin, FPN, BERT and the first five fusion blocks, per image and
# augmentation) kept after its first visit, so later visits run one fusion block, the
# box/class heads and their backward. Data, schedule, shots and seeds: glip_t_odinw_fewshot.py.
#   ODINW_DATASET=Raccoon ODINW_SHOT=3 ODINW_SEED=30 bash tools/dist_train.sh \
#       configs/sdpt/glip_t_odinw_fewshot_cached.py 8
# A hit needs the same padded image and the same prompt (ODinW's prompts are fixed). The
# training pipeline draws one of 5 scales and a flip: 10 variants per image, all cached
# after a few epochs of GLIP's 200. One image per GPU: a batch pads its images to the
# largest of them, so with two per GPU an image's padded tensor (the key) would depend on
# the image it was drawn with. GLIP-T keeps ~24 MB per image variant at 800x1333 (23 MB
# visual levels, 1.5 MB text), ~10 MB at 480: 3-shot datasets fit in max_bytes (least
# recently used first when not); device='same' keeps the states on the GPU instead.
_base_ = './glip_t_odinw_fewshot.py'

work_dir = ('./work_dirs/glip_t_odinw_fewshot_cached/{{$ODINW_DATASET:AerialMaritimeDrone}}/'
            'shot{{$ODINW_SHOT:3}}_seed{{$ODINW_SEED:3}}')
model = dict(tuner=dict(num_tokens=48, layers=[-1]),
             prefix_cache=dict(max_bytes=16 * 2**30, device='cpu', dtype=None))
train_dataloader = dict(batch_size=1)
