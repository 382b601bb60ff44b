"""Self-TPT on GLIP's BERT: the context changes the text features without moving GLIP's
token positions; stage 1 adds the contrastive prompt task and gradient matching to the
detection loss and trains the context only; the contrastive task alone (stage 2: names, no
images) adapts the context to new names."""
import torch

from mmdet_sdpt.models.self_tpt import SelfTPT
from tests.helpers import make_batch, total_loss

TUNER = dict(type='SelfTPT', num_tokens=4)


def _text(model, captions):
    with torch.no_grad():
        return model.language_model(captions)


def test_the_context_moves_the_text_features_not_the_token_positions(build_tuned):
    model = build_tuned(TUNER)
    with torch.no_grad():
        model.language_model.self_tpt.context.normal_()
    captions = ['circle. square. triangle.', 'circle.']
    tuned = _text(model, captions)
    with model.tuner.disabled(model):
        base = _text(model, captions)
    for key in ('embedded', 'hidden'):
        assert tuned[key].shape == base[key].shape  # same positions: GLIP's maps hold
        assert not torch.allclose(tuned[key], base[key])
    assert torch.equal(tuned['masks'], base['masks'])


def test_stage_one_adds_cpt_and_gradient_matching_and_trains_the_context_only(build_tuned):
    model = build_tuned(TUNER)
    model.train()
    inputs, samples = make_batch(num_images=2)
    losses = model.loss(inputs, samples)
    assert {'loss_cpt', 'loss_gm'} <= set(losses)
    assert -1.0 <= model.tuner.last_cosine <= 1.0
    sum(v.sum() if isinstance(v, torch.Tensor) else sum(x.sum() for x in v)
        for k, v in losses.items() if 'loss' in k).backward()
    grads = {n for n, p in model.named_parameters() if p.grad is not None}
    assert grads == {'language_model.self_tpt.context'}
    model.eval()
    assert 'loss_cpt' not in model.loss(inputs, samples)  # not in eval (nothing to train)
    without = build_tuned(dict(TUNER, cpt_weight=0.0)).train()
    assert not {'loss_cpt', 'loss_gm'} & set(without.loss(inputs, samples))
    assert torch.isfinite(total_loss(without, inputs, samples))


def test_the_contrastive_task_alone_adapts_the_context_to_new_names(build_tuned):
    model = build_tuned(TUNER)
    tuner: SelfTPT = model.tuner
    names = ['ball', 'box', 'cone']
    ctx = tuner.context(model)
    feats = tuner.class_features(model, names)
    assert feats.shape[:2] == (3, 4)
    before = float(tuner.cpt_loss(model, names))
    opt = torch.optim.SGD([ctx], lr=1.0)
    for _ in range(5):
        opt.zero_grad()
        tuner.cpt_loss(model, names).backward()
        opt.step()
    assert float(tuner.cpt_loss(model, names)) < before
