"""Benchmark suites: named lists of datasets in GLIP's ODinW layout, one registry for all.

A suite is what ``ODINW_SUITE`` names: ``ODinWDataset``, ``ODinWCocoMetric``, the few-shot
dataset and sampler, ``tools/fewshot_protocol.py``, ``tools/odinw_suite.sh`` and
``tools/collect_results.py`` all read it from here, so every process (torchrun and Slurm
workers included) sees the same suites by importing ``mmdet_sdpt``. Registered:

- ``odinw13``, ``odinw35``: mmdet's shipped GLIP ODinW configs (names, classes, folders and
  caption prompts read from there, never retyped);
- ``shapeworld``: the generated suite of :mod:`mmdet_sdpt.datasets.shapeworld`, written on
  first use under its root.

Layout, for every suite: ``<root>/<dataset folder>/<split>/annotations...json`` and images,
``root`` being the config's ``ODINW_ROOT`` (default: the suite's own). A suite may name, per
dataset, a *retention* dataset: a test split of the base model's own domain, evaluated with
the tuned model to measure what tuning kept of its zero-shot ability.

Register another suite with::

    @register_suite('mysuite')
    def _mysuite() -> Suite:
        return Suite(name='mysuite', default_root='data/mysuite/', entries={...},
                     datasets=(...))
"""
import functools
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

_FACTORIES: Dict[str, Callable[[], 'Suite']] = {}


@dataclass(frozen=True)
class Suite:
    """A suite of datasets.

    Args:
        name: what ``ODINW_SUITE`` says.
        default_root: where its data lie when a config gives no root.
        entries: every dataset it can read, as mmdet dataset configs of the ``valid`` split
            with ``data_root`` relative to the root (``ann_file``, ``data_prefix.img``,
            ``metainfo.classes``, optional ``caption_prompt``).
        datasets: the datasets it reports and averages over, in order (a subset of entries).
        retention: dataset -> the entry whose ``test`` split is its base-domain test.
        prepare: ``prepare(root, name, split)`` makes a split's files where missing
            (generated suites); None: the files must be there.
        description: dataset -> what it tests (for tables and the README).
    """
    name: str
    default_root: str
    entries: Dict[str, dict]
    datasets: Tuple[str, ...]
    retention: Dict[str, str] = field(default_factory=dict)
    prepare: Optional[Callable[[str, str, str], None]] = None
    description: Dict[str, str] = field(default_factory=dict)

    def root(self, data_root: Optional[str] = None) -> str:
        return data_root or self.default_root

    def entry(self, name: str) -> dict:
        if name not in self.entries:
            raise KeyError(f'{name!r} is not a dataset of suite {self.name}; known: '
                           f'{", ".join(self.entries)}')
        return self.entries[name]


def register_suite(name: str):
    """Decorator: register a function that builds :class:`Suite` ``name`` (called once, on
    first use)."""
    def wrap(factory):
        if name in _FACTORIES:
            raise KeyError(f'suite {name!r} is already registered')
        _FACTORIES[name] = factory
        return factory
    return wrap


def suite_names() -> Tuple[str, ...]:
    return tuple(_FACTORIES)


@functools.lru_cache(maxsize=None)
def get_suite(name: str) -> Suite:
    if name not in _FACTORIES:
        raise ValueError(f'unknown suite {name!r}; known: {", ".join(sorted(_FACTORIES))} '
                         '(ODINW_SUITE chooses one)')
    suite = _FACTORIES[name]()
    missing = [d for d in list(suite.datasets) + list(suite.retention.values())
               if d not in suite.entries]
    if missing:
        raise KeyError(f'suite {name}: no entry for {missing}')
    return suite


# --- mmdet's ODinW ---------------------------------------------------------------------
MMDET_ODINW_ROOT = 'data/odinw/'
ODINW_CONFIGS = {
    'odinw13': 'glip/odinw/glip_atss_swin-t_a_fpn_dyhead_pretrain_odinw13.py',
    'odinw35': 'glip/odinw/glip_atss_swin-t_a_fpn_dyhead_pretrain_odinw35.py',
}


def _mmdet_odinw(suite: str) -> Suite:
    import mmdet
    from mmengine.config import Config
    path = osp.join(osp.dirname(mmdet.__file__), '.mim', 'configs', ODINW_CONFIGS[suite])
    cfg = Config.fromfile(path)
    entries = {}
    for name, entry in zip(cfg.dataset_prefixes, cfg.datasets):
        entry = entry.to_dict() if hasattr(entry, 'to_dict') else dict(entry)
        entry['data_root'] = entry['data_root'][len(MMDET_ODINW_ROOT):]
        entries[name] = entry
    return Suite(name=suite, default_root=MMDET_ODINW_ROOT, entries=entries,
                 datasets=tuple(cfg.dataset_prefixes))


for _name in ODINW_CONFIGS:
    register_suite(_name)(functools.partial(_mmdet_odinw, _name))


# --- ShapeWorld, generated ---------------------------------------------------------------
@register_suite('shapeworld')
def _shapeworld() -> Suite:
    from .shapeworld import (ANN_NAME, COLOURS, RETENTION, SHAPEWORLD_DATASETS,
                             SHAPEWORLD_SUITE, make_shapeworld)

    def entry(folder, classes, ann=ANN_NAME):
        return dict(data_root=f'{folder}/', ann_file=f'valid/{ann}',
                    data_prefix=dict(img='valid/'), metainfo=dict(classes=tuple(classes)))

    entries = {name: entry(name, spec['classes']) for name, spec in SHAPEWORLD_DATASETS.items()}
    # the base part's boxes named by colour (a pretraining view of the same images)
    entries['BaseColours'] = entry('BaseShapes', COLOURS, 'annotations_colours.json')

    def prepare(root: str, name: str, split: str) -> None:
        make_shapeworld(root, [entries[name]['data_root'].rstrip('/')], [split])

    return Suite(name='shapeworld', default_root='data/shapeworld/', entries=entries,
                 datasets=SHAPEWORLD_SUITE, retention={d: RETENTION for d in SHAPEWORLD_SUITE},
                 prepare=prepare,
                 description={n: s['shift'] for n, s in SHAPEWORLD_DATASETS.items()})
