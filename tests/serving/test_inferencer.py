"""Many adapters on one base (``TunedInferencer``, ``AdapterBank``): each adapter checked
at load, chosen per call or per image without touching the base, a mixed batch equal to
each image alone with its adapter (GLIP and Grounding DINO), zero-shot equal to the base."""
import copy
import re
import threading
import warnings

import pytest
import torch

from mmdet_sdpt.adapter import AdapterMismatchError
from tests.helpers import (LONG, LONG_CLASSES, TEXT, assert_same_preds, cut_by_bert, preds_of,
                           random_images)


@pytest.mark.parametrize('setting', ['glip', 'gdino', 'language_prompt', 'mudpt', 'maple',
                                     'lora', 'vpt', 'sep', 'new_tuner', 'domain_sdpt',
                                     'self_tpt'])
def test_a_mixed_batch_equals_each_image_alone_with_its_adapter(setting, served):
    from mmdet.apis import DetInferencer

    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = served(setting)
    infer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    base = {k: v.clone() for k, v in infer.model.state_dict().items()}
    images, names = random_images(4), ['a', 'b', None, 'a']
    mixed = preds_of(infer(images, texts=TEXT, adapter=names, batch_size=4))
    alone = [preds_of(infer([img], texts=TEXT, adapter=name))[0]
             for img, name in zip(images, names)]
    assert_same_preds(mixed, alone)
    # each adapter as mmdet serves it: loaded into a model of its own
    for name in ('a', 'b'):
        stock = DetInferencer(model=copy.deepcopy(cfg), weights=paths[name], device='cpu',
                              show_progress=False)
        assert_same_preds(
            preds_of(infer(images[:2], texts=TEXT, adapter=name, batch_size=2)),
            preds_of(stock(images[:2], texts=TEXT, custom_entities=True, batch_size=2)))
    zero_cfg = copy.deepcopy(cfg)
    zero_cfg.model.zero_shot = True
    zero = DetInferencer(model=zero_cfg, device='cpu', show_progress=False)
    assert_same_preds([mixed[2]], preds_of(zero([images[2]], texts=TEXT, custom_entities=True)))
    # the adapters act, each its own way: the first fusion attention's output differs
    # between a, b and the base on the same image
    from mmdet_sdpt.models.sdpt import fusion_attentions
    attn = infer.model.get_submodule(fusion_attentions(infer.model)[-1])
    seen = []
    handle = attn.register_forward_hook(lambda m, a, out: seen.append(out[0].detach()))
    for name in ('a', 'b', None):
        infer([images[0]], texts=TEXT, adapter=name)
    handle.remove()
    assert len(seen) == 3
    assert not torch.allclose(seen[0], seen[1]) and not torch.allclose(seen[0], seen[2])
    # nothing of the model was written
    for k, v in infer.model.state_dict().items():
        assert torch.equal(v, base[k]), k


def test_adapters_are_checked_when_loaded_and_names_when_chosen(glip, tiny_cfg, build_tiny,
                                                                 base_checkpoint, tmp_path):
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = glip
    other = copy.deepcopy(cfg)
    other.model.tuner.num_tokens = 6
    with pytest.raises(AdapterMismatchError, match=r"adapter 'a'.*num_tokens=4 \(checkpoint\)"):
        TunedInferencer(other, adapters={'a': paths['a']}, device='cpu')
    infer = TunedInferencer(copy.deepcopy(cfg), adapters={'a': paths['a']}, device='cpu')
    with pytest.raises(KeyError, match=r"no adapter \['c'\] is loaded; loaded: \['a'\]"):
        infer(random_images(1), texts=TEXT, adapter='c')
    with pytest.raises(ValueError, match='2 images, 3 adapter names'):
        infer(random_images(2), texts=TEXT, adapter=['a', 'a', 'a'])
    with pytest.raises(KeyError, match='already loaded'):
        infer.add_adapter('a', paths['b'])
    infer.add_adapter('b', paths['b'])
    assert infer.adapters == ['a', 'b']


def test_tuners_that_rewrite_the_base_are_refused(tiny_cfg, base_checkpoint, monkeypatch):
    from mmdet_sdpt.serving import NotServableError
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg = copy.deepcopy(tiny_cfg)
    cfg.model.base_checkpoint = base_checkpoint
    cfg.model.tuner = dict(type='LinearProbe')
    with pytest.raises(NotServableError, match='tunes base tensors'):
        TunedInferencer(cfg, device='cpu')
    # a tuner module that keeps nothing per adapter (projects/new_tuner's, its bank_names
    # taken away): refused, with the reason
    from projects.new_tuner.prefix_tokens import PrefixTokens
    monkeypatch.setattr(PrefixTokens, 'bank_names', None)
    cfg.model.tuner = dict(type='TextPrefixTokens', num_tokens=4)
    with pytest.raises(NotServableError, match='effect is not kept per adapter'):
        TunedInferencer(cfg, device='cpu')


@pytest.mark.parametrize('setting', ['glip', 'vpt'])  # VPT: hook state per thread
def test_threads_choose_their_adapters_independently(setting, served):
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = served(setting)
    infer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    image = random_images(1, seed=3)
    expected = {n: preds_of(infer(image, texts=TEXT, adapter=n)) for n in ('a', 'b', None)}
    got, errors = {}, []

    def serve(name):
        try:
            for _ in range(3):
                got.setdefault(name, []).append(preds_of(infer(image, texts=TEXT, adapter=name)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=serve, args=(n, )) for n in ('a', 'b', None)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, outs in got.items():
        for out in outs:
            assert_same_preds(out, expected[name])


def test_the_served_tokenizer_is_safe_to_call_from_threads(glip):
    """A fast tokenizer shared by threads fails with 'Already borrowed' (it sets its padding
    on itself per call); the bank serialises its calls. Four threads mix mmdet's two calls
    (GLIP's prompt tokens, BERT's padded batch) 200 times each: no error, same ids as alone."""
    from mmdet_sdpt.inferencer import TunedInferencer
    cfg, paths = glip
    infer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    tokenizer = infer.model.language_model.tokenizer
    calls = [lambda: tokenizer([TEXT], return_tensors='pt').input_ids,
             lambda: tokenizer.batch_encode_plus([TEXT], max_length=64, padding='max_length',
                                                 truncation=True, return_tensors='pt').input_ids]
    expected = [call() for call in calls]
    errors = []

    def work(i):
        try:
            for _ in range(200):
                assert torch.equal(calls[i % 2](), expected[i % 2])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i, )) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    twin = copy.deepcopy(infer.model.language_model)  # a copy gets a lock of its own
    assert torch.equal(twin.tokenizer([TEXT], return_tensors='pt').input_ids, expected[0])
    assert twin.tokenizer._lock is not tokenizer._lock


@pytest.mark.parametrize('setting', ['glip', 'gdino'])
def test_class_names_past_the_token_cap_are_named_in_a_warning_once_per_prompt(setting,
                                                                               served):
    """BERT reads ``language_model.max_tokens`` tokens and drops the rest: the classes
    dropped are never detected. A call warns once per prompt, naming exactly those."""
    from mmdet_sdpt.inferencer import TunedInferencer
    from mmdet_sdpt.input_checks import PromptTooLongWarning
    cfg, paths = served(setting)
    infer = TunedInferencer(copy.deepcopy(cfg), adapters=paths, device='cpu')
    lm = infer.model.language_model
    cut = cut_by_bert(lm.tokenizer, lm.max_tokens, LONG_CLASSES)
    assert 0 < len(cut) < len(LONG_CLASSES) - 3 and 'triangle' not in cut
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter('always')
        infer(random_images(1), texts=TEXT, adapter='a')
        assert not [w for w in seen if w.category is PromptTooLongWarning]
        infer(random_images(2), texts=LONG, adapter=['a', None], batch_size=2)
        infer(random_images(1), texts=LONG, adapter='b')  # the same prompt: no second warning
    long = [str(w.message) for w in seen if w.category is PromptTooLongWarning]
    assert len(long) == 1, long
    assert f'{len(cut)} of the {len(LONG_CLASSES)} class names' in long[0]
    assert f'{lm.max_tokens}-token cap' in long[0]
    named = re.findall(r"'(\w+)'", long[0])
    assert named == cut
    assert infer.check_prompt(LONG).cut == tuple(cut)
    assert infer.check_prompt(TEXT).cut == () and infer.prompt_warning(TEXT) == ''
