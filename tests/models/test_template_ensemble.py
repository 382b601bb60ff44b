"""The K-template ensemble: each class's token features are the mean over the K template
captions of that class's token features, put at the plain caption's positions; the plain
template changes nothing; the model is itself again after the ensemble; bad set-ups are
refused with the fix named."""
import pytest
import torch

from mmdet_sdpt.models.template_ensemble import TemplateEnsemble, TemplateEnsembleHook
from tests.helpers import make_batch

TEMPLATES = [('a photo of a ', ''), ('a ', ' in the scene')]


def _language_outputs(model):
    """Every output of the language model while it runs, in a list."""
    seen = []
    handle = model.language_model.register_forward_hook(
        lambda m, a, out: seen.append({k: v.clone() for k, v in out.items()
                                       if torch.is_tensor(v)}))
    return seen, handle


def _scores(model, inputs, samples):
    """Each image's scores (copied: GLIP writes its results into the samples)."""
    with torch.no_grad():
        return [s.pred_instances.scores.clone() for s in model.predict(inputs, samples)]


def test_class_tokens_get_the_mean_over_the_templates(plain_glip):
    model = plain_glip
    inputs, samples = make_batch(num_images=2)
    names = list(samples[0].text)
    # what each template caption gives each class, encoded alone
    expected = []
    for prefix, suffix in TEMPLATES:
        prompt = {n: dict(prefix=prefix, suffix=suffix) for n in names}
        _, caption, positive, _ = model.get_tokens_positive_and_prompts(names, True, prompt,
                                                                        None)
        with torch.no_grad():
            out = model.language_model([caption])
        expected.append([out['embedded'][0, row.nonzero().flatten()] for row in positive])
    _, plain_caption, plain_positive, _ = model.get_tokens_positive_and_prompts(
        names, True, None, None)
    with torch.no_grad():
        plain = model.language_model([plain_caption])['embedded'][0]

    seen, handle = _language_outputs(model)
    try:
        with TemplateEnsemble(model, TEMPLATES):
            _scores(model, inputs, samples)
    finally:
        handle.remove()
    # K template captions, then the detector's one
    assert len(seen) == len(TEMPLATES) + 1
    # what the detector's caption gets from the language model under the ensemble
    with TemplateEnsemble(model, TEMPLATES) as ens:
        ens.prepare(samples)
        with torch.no_grad():
            got = model.language_model([plain_caption] * 2)['embedded']
    class_tokens = torch.zeros(got.size(1), dtype=torch.bool)
    for i, row in enumerate(plain_positive):
        idx = row.nonzero().flatten()
        class_tokens[idx] = True
        mean = (expected[0][i] + expected[1][i]) / 2
        for b in range(2):
            assert torch.allclose(got[b, idx], mean, atol=1e-5)
        assert not torch.allclose(got[0, idx], plain[idx], atol=1e-4)
    # the other tokens ([CLS], separators, padding) are the plain caption's
    assert torch.equal(got[0, ~class_tokens], plain[~class_tokens])


def test_the_plain_template_changes_nothing_and_the_model_comes_back(plain_glip):
    model = plain_glip
    inputs, samples = make_batch(num_images=2)
    before = _scores(model, inputs, samples)
    with TemplateEnsemble(model, [('', '')]):
        same = _scores(model, inputs, samples)
    with TemplateEnsemble(model, TEMPLATES):
        moved = _scores(model, inputs, samples)
    after = _scores(model, inputs, samples)
    for a, b, c, d in zip(before, same, moved, after):
        assert torch.allclose(a, b, atol=1e-5)
        assert torch.equal(a, d)
        assert not torch.allclose(a[:5], c[:5], atol=1e-4)


def test_bad_set_ups_are_refused(plain_glip):
    model = plain_glip
    _, samples = make_batch(num_images=1)
    samples[0].set_metainfo(dict(caption_prompt={'circle': dict(prefix='a ')}))
    with TemplateEnsemble(model, TEMPLATES) as ens, pytest.raises(ValueError,
                                                                  match='drop one of them'):
        ens.prepare(samples)
    _, samples = make_batch(num_images=1)
    samples[0].set_metainfo(dict(custom_entities=False))
    with TemplateEnsemble(model, TEMPLATES) as ens, pytest.raises(ValueError,
                                                                  match='custom_entities'):
        ens.prepare(samples)
    with pytest.raises(TypeError, match='needs a GLIP detector'):
        TemplateEnsemble(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match='pair'):
        TemplateEnsembleHook(templates=[('a photo of a ', '', 'x')])
