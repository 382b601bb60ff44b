"""The attacks of AdvPT for detection: PGD stays inside its budget and the image, raises its
objective; the feature attack never sees the prompts (one set of adversarial images serves
every method), the adaptive attack does."""
import torch

from mmdet_sdpt.robust.attacks import detection_loss, feature_kl, pgd, to_pixels
from tests.helpers import make_batch, randomise_tuned


def _batch(model):
    inputs, samples = make_batch(num_images=2, size=96, shapes=[(96, 96), (64, 80)])
    data = model.data_preprocessor(dict(inputs=list(inputs.byte()), data_samples=samples),
                                   False)
    return data['inputs'], data['data_samples']


def test_pgd_stays_in_its_budget_and_the_image_and_raises_its_objective(build_tiny):
    model = build_tiny(seed=0)
    inputs, samples = _batch(model)
    objective = feature_kl(model, inputs)
    adv = pgd(model, inputs, samples, objective, eps=4.0, steps=3,
              generator=torch.Generator().manual_seed(0))
    clean_px, adv_px = to_pixels(model, inputs), to_pixels(model, adv)
    delta = adv_px - clean_px
    assert delta.abs().max() <= 4.0 + 1e-3 and delta.abs().max() > 1.0
    assert adv_px.min() >= -1e-3 and adv_px.max() <= 255 + 1e-3
    assert delta[1, :, 64:, :].abs().max() < 1e-4  # the second image's padding untouched
    assert delta[1, :, :, 80:].abs().max() < 1e-4
    with torch.no_grad():
        assert float(objective(inputs)) < 1e-6 < float(objective(adv))


def test_the_feature_attack_is_prompt_free_the_adaptive_one_is_not(build_tiny):
    plain, tuned = build_tiny(seed=0), build_tiny(seed=0)
    with torch.no_grad():
        randomise_tuned(tuned, seed=5)
    inputs, samples = _batch(plain)

    def attack(model, objective):
        return pgd(model, inputs, samples, objective, eps=4.0, steps=2,
                   generator=torch.Generator().manual_seed(1))

    same = [attack(m, feature_kl(m, inputs)) for m in (plain, tuned)]
    assert torch.equal(same[0], same[1])
    apart = [attack(m, detection_loss(m, samples)) for m in (plain, tuned)]
    assert not torch.equal(apart[0], apart[1])
