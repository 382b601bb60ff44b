"""``TunedInferencer``: mmdet's ``DetInferencer`` for a tuned detector serving many adapters.

    from mmdet_sdpt.inferencer import TunedInferencer
    infer = TunedInferencer('configs/sdpt/demo_tiny-glip_synthetic.py',
                            adapters=dict(a='work_dirs/a/iter_300.pth', b='b.pth'))
    infer('img.png', texts='ball . box', adapter='a')             # one adapter
    infer('img.png', texts='ball . box')                          # zero-shot: the base
    infer(['x.png', 'y.png'], texts='ball . box', adapter=['a', 'b'], batch_size=2)

The base is built once from the config (its ``model.base_checkpoint``); every adapter is
checked against it when loaded (``AdapterBank``); ``adapter=`` picks per call, or per image
(a list): images of one batch that name different adapters run in one forward, each with
its own prompts, and zero-shot images of a batch run as a batch of their own. Nothing is
rebuilt or written between calls, and the choice is per thread.

Entities: mmdet's ``DetInferencer`` reads a text without ``custom_entities`` with nltk's
noun-phrase chunker (which needs downloads); here ``custom_entities`` defaults to True: the
text is the class names, separated by ' . '.

Long prompts: BERT reads at most ``language_model.max_tokens`` tokens (256 in GLIP and
Grounding DINO) and drops the rest, so class names past the cap are never detected. Every
call checks its prompts (``check_prompt``) and warns once per prompt
(``PromptTooLongWarning``), naming the classes cut off; ``prompt_warning(text)`` gives that
warning to a caller that shows it itself (the page, tools/infer.py).
"""
import copy
import inspect
import threading
import warnings
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmdet.apis import DetInferencer
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import DATASETS

from .input_checks import PromptCheck, PromptTooLongWarning, check_prompt
from .serving import AdapterBank

ADAPTER_KEY = 'adapter'
PROMPTS_KEPT = 1024  # prompts whose check is remembered (then forgotten, all at once)


class TunedInferencer(DetInferencer):
    """``DetInferencer`` with adapters chosen per call or per image.

    Args:
        model (str | Config): the tuned config (its base checkpoint is the model's weights).
        adapters (dict): {name: adapter checkpoint}, checked and loaded at start.
        weights (str, optional): a checkpoint loaded into the model itself, as
            ``DetInferencer`` does (rarely needed: adapters go to ``adapters``).
        device, palette, show_progress: as ``DetInferencer``.
    """

    def __init__(self, model, adapters: Optional[Dict[str, str]] = None,
                 weights: Optional[str] = None, device: Optional[str] = None,
                 palette: str = 'none', show_progress: bool = False) -> None:
        super().__init__(model=model, weights=weights, device=device, palette=palette,
                         show_progress=show_progress)
        self.bank = AdapterBank(self.model, adapters)
        self._checks: Dict[str, PromptCheck] = {}
        self._warned = set()
        self._checks_lock = threading.Lock()

    @property
    def adapters(self) -> List[str]:
        return list(self.bank.names)

    def add_adapter(self, name: str, checkpoint) -> None:
        self.bank.add(name, checkpoint)

    def check_prompt(self, text: Optional[str]) -> PromptCheck:
        """The classes of ``text`` (names separated by ' . ') that fall past the text
        encoder's token cap (``PromptCheck.cut``, ``.message``); remembered per prompt."""
        if not text:
            return PromptCheck()
        with self._checks_lock:
            found = self._checks.get(text)
        if found is None:
            found = check_prompt(self.model, text)
            with self._checks_lock:
                if len(self._checks) >= PROMPTS_KEPT:
                    self._checks.clear()
                self._checks[text] = found
        return found

    def prompt_warning(self, text: Optional[str]) -> str:
        """The warning naming the classes of ``text`` past the token cap ('' if none), for
        the caller to show: calls with this prompt then do not warn it again."""
        found = self.check_prompt(text)
        if found.cut:
            self._first_warning(text)
        return found.message

    def _first_warning(self, text: str) -> bool:
        with self._checks_lock:
            if text in self._warned:
                return False
            if len(self._warned) >= PROMPTS_KEPT:
                self._warned.clear()
            self._warned.add(text)
            return True

    def _warn_long_prompts(self, texts) -> None:
        # each prompt once, in order
        for text in dict.fromkeys(t for t in texts if isinstance(t, str) and t):
            found = self.check_prompt(text)
            if found.cut and self._first_warning(text):
                warnings.warn(found.message, PromptTooLongWarning, stacklevel=3)

    # --- DetInferencer's steps ----------------------------------------------------------
    def _load_weights_to_model(self, model, checkpoint, cfg) -> None:
        if checkpoint is not None:
            return super()._load_weights_to_model(model, checkpoint, cfg)
        # the base came with the build (model.base_checkpoint): names from the config
        dataset = copy.deepcopy(cfg.test_dataloader.dataset)
        dataset['lazy_init'] = True
        try:
            meta = dict(DATASETS.build(dataset).metainfo)
        except Exception:  # a test set that is not there: texts name the classes anyway
            meta = {}
        palette = self.palette if self.palette != 'none' else meta.get('palette', 'random')
        model.dataset_meta = dict(classes=tuple(meta.get('classes', ())), palette=palette)

    def _init_pipeline(self, cfg):
        pack = cfg.test_dataloader.dataset.pipeline[-1]
        keys = pack.get('meta_keys') or inspect.signature(
            PackDetInputs.__init__).parameters['meta_keys'].default
        pack['meta_keys'] = tuple(keys) + (ADAPTER_KEY, )  # each image's adapter name
        return super()._init_pipeline(cfg)

    def __call__(self, inputs, texts: Union[None, str, Sequence[str]] = None,
                 adapter: Union[None, str, Sequence[Optional[str]]] = None,
                 custom_entities: bool = True, batch_size: int = 1, **kwargs) -> dict:
        """``DetInferencer.__call__`` with ``adapter``: None (zero-shot), a loaded
        adapter's name, or one of those per image."""
        images = self._inputs_to_list(inputs)
        n = len(images)
        names = [adapter] * n if adapter is None or isinstance(adapter, str) else list(adapter)
        texts = [texts] * n if texts is None or isinstance(texts, str) else list(texts)
        if len(names) != n or len(texts) != n:
            raise ValueError(f'{n} images, {len(names)} adapter names, {len(texts)} texts: '
                             'give one of each per image, or one for all')
        unknown = sorted({a for a in names if a is not None and a not in self.bank.names})
        if unknown:
            raise KeyError(f'no adapter {unknown} is loaded; loaded: {self.bank.names}')
        if custom_entities:  # class names: those past the token cap are never detected
            self._warn_long_prompts(texts)
        items = []
        for image, text, name in zip(images, texts, names):
            item = {'img_path' if isinstance(image, str) else 'img': image,
                    ADAPTER_KEY: name}
            if text is not None:
                item.update(text=text, custom_entities=custom_entities, tokens_positive=None)
            items.append(item)
        return super().__call__(items, batch_size=batch_size, **kwargs)

    def forward(self, inputs: dict, **kwargs) -> list:
        """One forward per group of the batch: its adapter images together (each with its
        own prompts), its zero-shot images together; results in the batch's order."""
        samples = inputs['data_samples']
        names = [s.metainfo.get(ADAPTER_KEY) for s in samples]
        groups = {}
        for i, name in enumerate(names):
            groups.setdefault(name is None, []).append(i)
        results = [None] * len(samples)
        for _, index in sorted(groups.items()):
            part = {k: [v[i] for i in index] for k, v in inputs.items()}
            with self.bank.choice([names[i] for i in index], len(index)):
                for i, result in zip(index, super().forward(part, **kwargs)):
                    results[i] = result
        return results

    def _inputs_to_list(self, inputs) -> list:
        if isinstance(inputs, (list, tuple)) and all(isinstance(i, dict) for i in inputs):
            return list(inputs)  # our own items (__call__ built them)
        if isinstance(inputs, np.ndarray) or isinstance(inputs, str):
            return super()._inputs_to_list(inputs)
        return super()._inputs_to_list(list(inputs))
