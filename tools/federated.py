"""Federated tuning of a config's adapter on one machine: Flower's simulation engine, one
simulated site per client domain (each a dataset of the config's suite, e.g. ShapeWorld's
Thermal and Aerial), the sites' ClientApp and the ServerApp of mmdet_sdpt.federated.

    python tools/federated.py configs/federated/tiny-glip_shapeworld_fedavg.py \
        --clients Thermal Aerial --rounds 3 --local-iters 20

The adapter after round N is WORK_DIR/round_N.pth, a normal adapter checkpoint:
    python tools/test.py CONFIG WORK_DIR/round_N.pth
The same apps run under Flower's deployment engine, a SuperLink and one SuperNode per site
(docs/federated.md)."""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmdet_sdpt.federated.settings import DEFAULTS  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('config')
    parser.add_argument('--clients', nargs='+', required=True,
                        help='the sites\' domains (datasets of the config\'s suite)')
    parser.add_argument('--rounds', type=int, default=DEFAULTS['rounds'])
    parser.add_argument('--local-iters', type=int, default=DEFAULTS['local_iters'])
    parser.add_argument('--strategy', choices=('fedavg', 'fedprox'), default='fedavg')
    parser.add_argument('--proximal-mu', type=float, default=DEFAULTS['proximal_mu'])
    parser.add_argument('--fraction-evaluate', type=float, default=1.0,
                        help='sites that score each round on their valid split (0: none)')
    parser.add_argument('--shot', type=int, default=DEFAULTS['shot'])
    parser.add_argument('--seed', type=int, default=DEFAULTS['seed'])
    parser.add_argument('--suite', default=DEFAULTS['suite'])
    parser.add_argument('--data-root', default='')
    parser.add_argument('--work-dir', help='default: work_dirs/federated/<config name>')
    parser.add_argument('--resume', action='store_true',
                        help='go on from the last round saved in the work dir')
    parser.add_argument('--cpus-per-client', type=float, default=1.0)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from flwr.simulation import run_simulation

    from mmdet_sdpt.federated.client import client_app
    from mmdet_sdpt.federated.server import server_app
    name = osp.splitext(osp.basename(args.config))[0]
    defaults = dict(
        config=osp.abspath(args.config), domains=','.join(args.clients), rounds=args.rounds,
        local_iters=args.local_iters, strategy=args.strategy, proximal_mu=args.proximal_mu,
        fraction_evaluate=args.fraction_evaluate, min_nodes=len(args.clients),
        shot=args.shot, seed=args.seed, suite=args.suite, data_root=args.data_root,
        work_dir=osp.abspath(args.work_dir or osp.join('work_dirs', 'federated', name)),
        resume=args.resume)
    os.environ.setdefault('OMP_NUM_THREADS', '1')
    run_simulation(server_app=server_app(defaults), client_app=client_app(defaults),
                   num_supernodes=len(args.clients),
                   backend_config=dict(client_resources=dict(
                       num_cpus=args.cpus_per_client, num_gpus=0.0)))
    record = osp.join(defaults['work_dir'], 'federation.json')
    if not osp.exists(record):
        print(f'the federation wrote no round (see {defaults["work_dir"]}/federation.log)')
        return 1
    print(f'rounds and adapters: {record}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
