# Domain-aware federated SDPT (Fed-DPT's idea on SDPT; mmdet_sdpt/models/domain_sdpt.py):
# per fusion layer, 4 shared prototype tokens (averaged over every site) and 4 tokens per
# domain (each domain's rows come from its own sites only), plus each domain's key (the mean
# image-stream input of the layer over its training images). At test time an image mixes the
# domains' tokens by the softmax of its similarity to each key; a site trains its own.
# The domains are the federation's sites, in order.
#   python tools/federated.py configs/federated/tiny-glip_shapeworld_domain.py \
#       --clients Thermal Aerial --rounds 3
_base_ = ['./tiny-glip_shapeworld_fedavg.py']

domains = ('{{$FED_DOMAINS:Thermal,Aerial,Synonyms,Crowded}}').split(',')
model = dict(tuner=dict(_delete_=True, type='DomainAwareSDPT', num_shared=4, num_domain=4,
                        domains=domains, temperature=0.1))
