"""The end of a distributed run."""


def end_process_group() -> None:
    """Destroy the default process group, if one is up, before the interpreter exits.

    mmengine never destroys it. Left to interpreter exit, a gloo rank can abort after its
    run has finished ("terminate called without an active exception", SIGABRT): its threads
    are torn down in the wrong order. torchrun then reports the whole job as failed.
    """
    import torch.distributed as dist
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
