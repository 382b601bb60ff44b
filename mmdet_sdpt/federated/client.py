"""The Flower ``ClientApp`` of a site: ``train`` runs one round of local training
(:class:`~.site.Site`) from the global adapter it receives and replies with the tuner's
tensors, the site's sample count (FedAvg's weight), its training loss and its adapter meta;
``evaluate`` scores the global adapter on the site's valid split.

``app`` reads Flower's run config and the SuperNode's node config (deployment);
``client_app(defaults)`` is the same app with defaults (``tools/federated.py``'s
simulation, where Flower passes no run config)."""
import os.path as osp

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from .settings import resolve, settings, site_domain, site_options
from .site import Site
from .updates import META, SITE, dump_meta, load_meta, to_arrays, to_state


def site_of(context: Context, defaults: dict = None) -> Site:
    s = settings(context.run_config, dict(context.node_config), defaults)
    domain = site_domain(s)
    work_dir = s.get('site_work_dir') or osp.join(s['work_dir'], 'sites', domain)
    return Site(resolve(s['config']), domain, resolve(work_dir), **site_options(s))


def train_round(site: Site, msg: Message) -> RecordDict:
    """A site's reply to a train message: its update and what the server checks."""
    config = msg.content['config']
    result = site.train(to_state(msg.content['arrays']), load_meta(config[META]),
                        int(config['server-round']), int(config['local-iters']),
                        float(config.get('proximal-mu', 0.0)))
    return RecordDict({
        'arrays': to_arrays(result.state),
        'metrics': MetricRecord({'num-examples': result.num_examples,
                                 'train-loss': result.loss}),
        'config': ConfigRecord({META: dump_meta(result.meta), SITE: site.domain}),
    })


def evaluate_round(site: Site, msg: Message) -> RecordDict:
    config = msg.content['config']
    metrics, count = site.evaluate(to_state(msg.content['arrays']), load_meta(config[META]),
                                   int(config['server-round']))
    return RecordDict({'metrics': MetricRecord({
        'num-examples': count, 'valid-ap': float(metrics.get('coco/bbox_mAP', 0.0))})})


def client_app(defaults: dict = None) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        return Message(content=train_round(site_of(context, defaults), msg), reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        return Message(content=evaluate_round(site_of(context, defaults), msg),
                       reply_to=msg)

    return app


app = client_app()
