"""Serving a cached step: the session a step runs in, and the overrides that read it.

Inside ``PrefixCache.run`` every sample's prefix state is known; the detector's modules at
the cut then return the stored state instead of computing it (``serve_with``), and
outside a session they compute as always.
"""
import types
from contextvars import ContextVar
from typing import Callable, NamedTuple, Optional

from torch import nn

_SESSION: ContextVar = ContextVar('mmdet_sdpt_prefix_cache_session', default=None)


def _session_of(owner) -> Optional['_Session']:
    session = _SESSION.get()
    return session if session is not None and session.owner is owner else None


class _Session(NamedTuple):
    owner: object  # the PrefixCache serving this step
    state: dict


# Serving overrides are instance attributes (mmdet's classes stay untouched; ``__call__``
# and its hooks run as always) made of module-level functions and plain attributes, so a
# deep copy of the model (EMA, tools) serves its own cache, not the original's.
def _served_forward(self, *args, **kwargs):
    session = _session_of(self.__dict__.get('_prefix_owner'))
    if session is None:
        return type(self).forward(self, *args, **kwargs)
    return self._prefix_serve(self, session, *args, **kwargs)


def _served_extract_feat(self, batch_inputs):
    session = _session_of(self.__dict__.get('prefix_cache'))
    if session is None:
        return type(self).extract_feat(self, batch_inputs)
    return self._prefix_serve_feats(self, session, batch_inputs)


def _serve_with(module: nn.Module, owner, serve: Callable) -> None:
    """Inside a serving session of ``owner``, ``module.forward`` returns
    ``serve(module, session, *args, **kwargs)``; elsewhere it is the module's own."""
    module._prefix_owner = owner
    module._prefix_serve = serve
    module.forward = types.MethodType(_served_forward, module)


def _serve_feats_with(detector: nn.Module, serve: Callable) -> None:
    detector._prefix_serve_feats = serve
    detector.extract_feat = types.MethodType(_served_extract_feat, detector)


def _served_lang(module, session, *args, **kwargs) -> dict:
    return dict(session.state['lang'])  # a new dict: the detector writes into it
