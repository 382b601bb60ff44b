"""The federation's settings: Flower's run config (``flwr run --run-config``, the app's
``pyproject.toml``), a site's node config (``flower-supernode --node-config``), and the
defaults ``tools/federated.py`` gives the simulation. Later sources win: defaults < run
config < node config."""
import os.path as osp
from typing import Dict, Optional

DEFAULTS = dict(
    config='configs/federated/tiny-glip_shapeworld_fedavg.py',
    domains='Thermal,Aerial',  # the sites' datasets; a simulated node i takes the i-th
    rounds=3,
    local_iters=20,
    strategy='fedavg',  # or 'fedprox'
    proximal_mu=0.01,
    fraction_evaluate=1.0,  # sites that score each round's adapter on their valid split
    min_nodes=2,
    shot=3,
    seed=3,
    suite='shapeworld',
    data_root='',
    work_dir='work_dirs/federated',
    resume=False,
    timeout=3600.0,
)
# Flower's config keys are written with dashes (pyproject.toml, --run-config)
_FLOWER_KEYS = {k.replace('_', '-'): k for k in DEFAULTS}
# a site's own: its domain, its work dir, its file of the base
SITE_KEYS = ('domain', 'site_work_dir', 'base_checkpoint')


def settings(run_config: Optional[dict] = None, node_config: Optional[dict] = None,
             defaults: Optional[dict] = None) -> dict:
    """Merge the sources; unknown keys stop with the list of known ones."""
    merged = dict(DEFAULTS, **(defaults or {}))
    known = set(DEFAULTS) | set(SITE_KEYS) | {'partition_id', 'num_partitions'}
    for source, values in (('run config', run_config), ('node config', node_config)):
        for key, value in (values or {}).items():
            name = _FLOWER_KEYS.get(key, key.replace('-', '_'))
            if name not in known:
                raise KeyError(f'unknown federation setting {key!r} in the {source}; known: '
                               f'{sorted(k.replace("_", "-") for k in known)}')
            merged[name] = value
    return merged


def domains(s: dict) -> list:
    return [d.strip() for d in str(s['domains']).split(',') if d.strip()]


def site_domain(s: dict) -> str:
    """A site's domain: its node config's ``domain``, else (simulation) the domain of its
    partition id."""
    if s.get('domain'):
        return s['domain']
    names = domains(s)
    if 'partition_id' not in s:
        raise KeyError('this site has no domain: start its SuperNode with '
                       '--node-config "domain=\'NAME\'"')
    return names[int(s['partition_id']) % len(names)]


def resolve(path: str, root: Optional[str] = None) -> str:
    """A path as given, or relative to the repository (sites started from elsewhere)."""
    if not path or osp.isabs(path) or osp.exists(path):
        return path
    root = root or osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    return osp.join(root, path)


def site_options(s: dict) -> Dict[str, object]:
    return dict(shot=int(s['shot']), seed=int(s['seed']), suite=s['suite'], domains=domains(s),
                data_root=resolve(s['data_root']) or None,
                base_checkpoint=resolve(s.get('base_checkpoint') or '') or None)
