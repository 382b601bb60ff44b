"""Sites that go wrong, for the federation tests.

``app``: the deployment test's ClientApp, the project's own for every site except a
SuperNode started with ``--node-config "nan-site=true ..."``, which answers every round with
NaN tensors (a site whose local training diverged) and a valid adapter meta.
``simulate_dropout``: Flower's simulation of the project's apps where the second site fails
from round 2 on (a site that drops out mid-run)."""
import math

from flwr.app import ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from mmdet_sdpt.federated import client
from mmdet_sdpt.federated.updates import META, SITE, to_arrays, to_state

app = ClientApp()


def _own(context: Context) -> Context:
    """The context without the test's own key (the project's settings refuse unknown ones)."""
    context.node_config = {k: v for k, v in context.node_config.items() if k != 'nan-site'}
    return context


@app.train()
def train(msg: Message, context: Context) -> Message:
    if not context.node_config.get('nan-site'):
        return Message(content=client.train_round(client.site_of(_own(context)), msg),
                       reply_to=msg)
    state = {k: v * math.nan for k, v in to_state(msg.content['arrays']).items()}
    config = msg.content['config']
    return Message(content=RecordDict({
        'arrays': to_arrays(state),
        'metrics': MetricRecord({'num-examples': 9, 'train-loss': math.nan}),
        'config': ConfigRecord({META: config[META],
                                SITE: str(context.node_config.get('domain'))})}),
        reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    return Message(content=client.evaluate_round(client.site_of(_own(context)), msg),
                   reply_to=msg)


def dropout_app(defaults: dict) -> ClientApp:
    sites = ClientApp()

    @sites.train()
    def train(msg: Message, context: Context) -> Message:
        if (int(context.node_config['partition-id']) == 1
                and int(msg.content['config']['server-round']) >= 2):
            raise RuntimeError('site lost its connection')
        return Message(content=client.train_round(client.site_of(context, defaults), msg),
                       reply_to=msg)

    return sites


def simulate_dropout(defaults: dict) -> None:
    from flwr.simulation import run_simulation

    from mmdet_sdpt.federated.server import server_app
    run_simulation(server_app=server_app(defaults), client_app=dropout_app(defaults),
                   num_supernodes=2,
                   backend_config=dict(client_resources=dict(num_cpus=1, num_gpus=0.0)))
