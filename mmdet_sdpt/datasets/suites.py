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

**A folder is a suite**: any folder in GLIP's ODinW layout,
``<folder>/<Name>/{train,valid,test}/annotations_without_background.json`` plus images, is
the suite its path names (``ODINW_SUITE=path/to/folder``, ``--suite path/to/folder``),
without code: its datasets are its sub-folders, each one's classes the categories of its
files in their order, prompted by their names (:func:`folder_suite`). A suite file beside
them (``suite.yaml``, ``suite.json`` or ``suite.py``, read by mmengine's ``Config``) may
say more::

    datasets = ['Kitchen', 'Garage']        # reported and averaged, in this order
    retention = 'Household'                 # a sub-folder whose test split is the base domain
    renames = dict(Kitchen=dict(mug_1='mug'))    # prompt a file's class by another name
    prompts = dict(Kitchen=dict(mug=dict(prefix='a ', suffix=' on a table')))  # GLIP captions

Register a suite in code with::

    @register_suite('mysuite')
    def _mysuite() -> Suite:
        return Suite(name='mysuite', default_root='data/mysuite/', entries={...},
                     datasets=(...))

and import its module where the suite is used: a config's ``custom_imports``, or the tools'
``--import MODULE``, which they pass on to every worker in ``ODINW_SUITE_IMPORTS``
(comma-separated modules imported before an unknown suite is refused).
"""
import functools
import importlib
import json
import os
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
    own_root: bool = False  # a folder suite: its folder is its data, whatever the config says

    def root(self, data_root: Optional[str] = None) -> str:
        if self.own_root:
            return self.default_root
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


IMPORTS_ENV = 'ODINW_SUITE_IMPORTS'  # modules that register suites, for every worker
ANN_NAME = 'annotations_without_background.json'
SPLITS = ('train', 'valid', 'test')
SUITE_FILES = ('suite.yaml', 'suite.yml', 'suite.json', 'suite.py')
LAYOUT = ('<folder>/<Name>/train/' + ANN_NAME + ' (+ its images), <folder>/<Name>/valid/...,'
          ' <folder>/<Name>/test/...')


class SuiteError(ValueError):
    """A suite that cannot be used; the message names the fix."""


def import_suite_modules(modules=None) -> None:
    """Import the modules that register suites: ``modules`` and those in
    ``ODINW_SUITE_IMPORTS``."""
    names = list(modules or []) + [m for m in os.environ.get(IMPORTS_ENV, '').split(',') if m]
    for name in names:
        importlib.import_module(name.strip())


def is_folder_suite(name: str) -> bool:
    return name not in _FACTORIES and osp.isdir(name)


@functools.lru_cache(maxsize=None)
def get_suite(name: str) -> Suite:
    if name not in _FACTORIES:
        import_suite_modules()
    if name not in _FACTORIES:
        if osp.isdir(name):
            return folder_suite(name)
        raise SuiteError(
            f'unknown suite {name!r}; known: {", ".join(sorted(_FACTORIES))}. A folder in '
            f'GLIP\'s ODinW layout is a suite without code: pass its path ({LAYOUT}); a '
            'suite registered in code (register_suite) needs its module imported: the '
            'config\'s custom_imports or --import MODULE')
    suite = _FACTORIES[name]()
    missing = [d for d in list(suite.datasets) + list(suite.retention.values())
               if d not in suite.entries]
    if missing:
        raise KeyError(f'suite {name}: no entry for {missing}')
    return suite


# --- a folder in GLIP's layout ---------------------------------------------------------
def _categories(folder: str) -> Optional[list]:
    """The category names of the first split file of ``folder`` that parses (train, valid,
    test), in the file's order; None when none does (the preflight says why)."""
    for split in SPLITS:
        path = osp.join(folder, split, ANN_NAME)
        try:
            with open(path) as f:
                return [c['name'] for c in json.load(f)['categories']]
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def _suite_file(root: str) -> dict:
    from mmengine.config import Config
    known = ('datasets', 'retention', 'renames', 'prompts', 'description')
    for name in SUITE_FILES:
        path = osp.join(root, name)
        if osp.isfile(path):
            try:
                options = Config.fromfile(path).to_dict()
            except Exception as e:  # a file that does not parse
                raise SuiteError(f'{path} does not parse: {e}') from e
            unknown = sorted(set(options) - set(known))
            if unknown:
                raise SuiteError(f'{path}: unknown keys {unknown}; a suite file knows '
                                 f'{", ".join(known)}')
            return options
    return {}


def folder_suite(folder: str) -> Suite:
    """The suite of a folder in GLIP's ODinW layout (see the module's docstring): every
    sub-folder a dataset, its classes its files' categories in their order; the suite file
    beside them, if any, names the reported datasets, a retention dataset, renames and
    caption prompts."""
    root = osp.abspath(folder)
    options = _suite_file(root)
    names = sorted(d for d in os.listdir(root) if osp.isdir(osp.join(root, d))
                   and not d.startswith(('.', '_')))
    if not names:
        raise SuiteError(f'{root} holds no dataset folder; a folder suite is laid out as '
                         f'{LAYOUT}')
    retention = options.get('retention') or {}
    if isinstance(retention, str):
        retention = {d: retention for d in names if d != retention}
    datasets = tuple(options.get('datasets') or
                     [d for d in names if d not in set(retention.values())])
    unknown = sorted({d for d in datasets if d not in names} |
                     {d for d in retention.values() if d not in names})
    if unknown:
        raise SuiteError(f'{osp.join(root, "suite.*")} names {unknown}, which are not '
                         f'sub-folders of {root} (it has {", ".join(names)})')
    renames, prompts = options.get('renames') or {}, options.get('prompts') or {}
    entries = {}
    for name in names:
        classes = _categories(osp.join(root, name)) or []
        caption = {}
        for cls, new in (renames.get(name) or {}).items():
            caption.setdefault(cls, {})['name'] = new
        for cls, prompt in (prompts.get(name) or {}).items():
            caption.setdefault(cls, {}).update(
                prompt if isinstance(prompt, dict) else dict(name=prompt))
        entry = dict(data_root=f'{name}/', ann_file=f'valid/{ANN_NAME}',
                     data_prefix=dict(img='valid/'), metainfo=dict(classes=tuple(classes)))
        if caption:
            entry['caption_prompt'] = caption
        entries[name] = entry
    return Suite(name=root, default_root=root + '/', entries=entries, datasets=datasets,
                 retention={d: r for d, r in retention.items() if d in entries},
                 description=dict(options.get('description') or {}), own_root=True)


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
