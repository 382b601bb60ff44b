# Federated SDPT on the tiny GLIP (mmdet_sdpt/federated, Flower): one shared set of
# prototype tokens per fusion layer, averaged over the sites (FedAvg weighted by images).
# Each site reads the ShapeWorld dataset it is given (its domain: --clients / the
# SuperNode's node config), K shots of a seed, and trains a round's local iterations at the
# rate the leaderboard's sweep chose for SDPT (docs/leaderboard.md: x3 of 0.05), no schedule.
#   python tools/federated.py configs/federated/tiny-glip_shapeworld_fedavg.py \
#       --clients Thermal Aerial --rounds 3
_base_ = ['../sdpt/tiny-glip_shapeworld.py']

optim_wrapper = dict(optimizer=dict(lr=0.15))
