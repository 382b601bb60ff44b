"""Federated tuning of adapters on Flower: sites tune one frozen detector's adapter
together, only the tuner's tensors travel (``client``: the ``ClientApp`` of a site,
``server``: the ``ServerApp`` with Flower's FedAvg / FedProx, ``site``: a site's round as an
mmengine runner, ``updates``: what travels and how it is checked, ``settings``: Flower's run
and node configs). ``tools/federated.py`` runs Flower's simulation; the same apps run under
Flower's deployment engine (``federated_app/``, docs/federated.md)."""
