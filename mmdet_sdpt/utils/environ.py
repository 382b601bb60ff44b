"""Environment variables set for a block (a config that reads ``{{$VAR:default}}`` parsed
for one run, one site, one dataset), restored afterwards."""
import contextlib
import os
from typing import Dict


@contextlib.contextmanager
def environ(values: Dict[str, str]):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
