"""tools/dist_train.sh with 2 CPU processes (gloo) x batch 1 against tools/train.py with 1
process x batch 2: same global batch, same seed, no shuffling (InfiniteSampler hands rank r
the images r, r + 2, ...: the pair a batch of two holds), so every step sees the same two
images. SDPT's prompts are the only trainable tensors and DDP averages their gradients over
the ranks, so both runs must end with the same prompts, and both ranks with identical ones.

Each run dumps every rank's prompts before and after training with ``DumpPromptsHook``
(defined here, pulled into the runs by ``custom_imports`` of a small generated config).

Two optimisers, because they test different things:
- plain SGD, no clipping: the update is lr x gradient, so it shows that gradients are
  *averaged* over ranks (a sum would double every step). Adam cannot show that: it divides
  each gradient by its own running magnitude, so it is blind to a factor of 2.
- AdamW with grad clipping, as the shipped config trains.
"""
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest
import torch
from mmdet.registry import HOOKS
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from tests.helpers import ROOT, TINY_CONFIG

pytestmark = pytest.mark.slow  # each test trains twice (2-process DDP and 1 process)
ITERS = 3
# Tolerances, from what was measured (2 CPU cores, OMP_NUM_THREADS=1, 3 steps) and why:
# - SGD (lr 10): max |diff| 1.2e-07 (6.0e-08 with lr 1), one or two float32 ulps of
#   prompts of magnitude 0.5..1 (2^-24 = 6e-8): the runs add the two images' gradients in
#   another order (one backward over a batch of two vs. two backwards, gloo allreduce, / 2),
#   which is rounding noise. 1e-6 (~16 ulps) leaves room for it, while the prompts move by
#   ~2e-3 a step (6e-3 in 3 steps), so gradients summed instead of averaged, another image
#   order or a rank skipping its update fail it by three orders of magnitude.
# - AdamW (lr 5e-2, shipped optimiser): max |diff| 5.3e-05 (8.4e-06 in a later session,
#   after the model code had changed), reached at step 1 and not growing after. Adam's
#   first step is lr * g / (|g| + eps), eps = 1e-8: for the few elements whose gradient is
#   itself ~eps, rounding noise in g moves the update by up to ~lr * noise / eps (3 of
#   1,024 elements per layer here); all others move by exactly ~lr. 2e-4 is ~4x the
#   largest measured value and still 250x smaller than one step (lr = 5e-2).
SGD_LR, SGD_TOLERANCE = 10.0, 1e-6
ADAMW_TOLERANCE = 2e-4
OPTIMISERS = {
    'sgd': ("optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', "
            f"lr={SGD_LR}, momentum=0.0), clip_grad=None)\n", SGD_TOLERANCE),
    'adamw': ('', ADAMW_TOLERANCE),  # the tiny config's own AdamW, clip_grad max_norm 1
    # SGD again, SDPT in the last fusion layer with the prefix cache (model.prefix_cache):
    # each rank keeps its own cache and the run still matches one process
    'sgd-cached': (f"optim_wrapper = dict(optimizer=dict(_delete_=True, type='SGD', "
                   f"lr={SGD_LR}, momentum=0.0), clip_grad=None)\n"
                   "model = dict(tuner=dict(layers=[-1]), "
                   "prefix_cache=dict(max_bytes=2**28, log_interval=0))\n", SGD_TOLERANCE),
}


@HOOKS.register_module(force=True)
class DumpPromptsHook(Hook):
    """Every rank saves its tuned tensors before and after training, to
    ``work_dir/{init_,}prompts_rank{r}.pth``."""

    def before_train(self, runner) -> None:
        self._dump(runner, 'init_')

    def after_train(self, runner) -> None:
        self._dump(runner, '')

    @staticmethod
    def _dump(runner, prefix: str) -> None:
        from mmdet_sdpt.adapter import get_tuner, unwrap
        model = unwrap(runner.model)
        state = get_tuner(model).adapter_state_dict(model.state_dict())
        torch.save({k: v.detach().cpu().clone() for k, v in state.items()},
                   osp.join(runner.work_dir, f'{prefix}prompts_rank{get_rank()}.pth'))
        if getattr(model, 'prefix_cache', None) is not None:
            stats = dict(model.prefix_cache.stats(), id=id(model.prefix_cache))
            torch.save(stats, osp.join(runner.work_dir, f'{prefix}cache_rank{get_rank()}.pth'))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _load(work_dir, name):
    return torch.load(osp.join(work_dir, name), weights_only=False)


@pytest.fixture(scope='module', params=sorted(OPTIMISERS))
def runs(request, tiny_env, base_checkpoint, tmp_path_factory):
    """{'ddp': work_dir, 'single': work_dir, ...} of one optimiser's pair of runs."""
    optimiser = request.param
    root = tmp_path_factory.mktemp(f'ddp_{optimiser}')
    config = root / 'tiny_ddp.py'
    config.write_text(
        f'_base_ = {TINY_CONFIG!r}\n'
        "custom_imports = dict(imports=['mmdet_sdpt', 'tests.tools.test_ddp'], "
        'allow_failed_imports=False)\n'
        "custom_hooks = _base_.custom_hooks + [dict(type='DumpPromptsHook')]\n"
        + OPTIMISERS[optimiser][0])
    common = [f'model.base_checkpoint={base_checkpoint}', f'train_cfg.max_iters={ITERS}',
              'train_cfg.val_begin=1000000',  # no validation: training is compared
              f'default_hooks.checkpoint.interval={ITERS}',
              'train_dataloader.sampler.shuffle=False',
              'randomness.seed=0', 'randomness.deterministic=True']
    # PYTHONPATH: the runs import this module; one thread each: 2 processes on 2 cores
    # CPU everywhere (gloo), also on a machine with a GPU: both runs on the same kernels
    env = dict(os.environ, PYTHONWARNINGS='ignore', PYTHONPATH=ROOT, OMP_NUM_THREADS='1',
               PORT=str(_free_port()), CPU_DDP='1', CUDA_VISIBLE_DEVICES='')
    out = dict(optimiser=optimiser, tolerance=OPTIMISERS[optimiser][1], seconds={})
    for name, cmd, batch in [
            ('ddp', ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), str(config), '2'], 1),
            ('single', [sys.executable, osp.join(ROOT, 'tools', 'train.py'), str(config)], 2)]:
        work_dir = str(root / name)
        start = time.time()
        res = subprocess.run([*cmd, '--work-dir', work_dir, '--cfg-options', *common,
                              f'train_dataloader.batch_size={batch}'],
                             capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
        out['seconds'][name] = round(time.time() - start, 1)
        assert res.returncode == 0, (res.stdout + res.stderr)[-4000:]
        out[name] = work_dir
    return out


def test_both_ranks_hold_identical_prompts(runs):
    rank0, rank1 = (_load(runs['ddp'], f'prompts_rank{r}.pth') for r in (0, 1))
    assert rank0.keys() == rank1.keys() and len(rank0) > 0
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)
    # and the adapter checkpoint rank 0 wrote holds exactly them
    ckpt = _load(runs['ddp'], f'iter_{ITERS}.pth')['state_dict']
    assert ckpt.keys() == rank0.keys()
    assert all(torch.equal(ckpt[k], rank0[k]) for k in rank0)


def test_two_processes_of_batch_one_match_one_process_of_batch_two(runs):
    ddp, single = (_load(runs[r], 'prompts_rank0.pth') for r in ('ddp', 'single'))
    init, single_init = (_load(runs[r], 'init_prompts_rank0.pth') for r in ('ddp', 'single'))
    assert ddp.keys() == single.keys() == init.keys() and len(ddp) > 0
    assert all(torch.equal(init[k], single_init[k]) for k in init)  # same seed, same start
    moved = min((ddp[k] - init[k]).abs().max().item() for k in ddp)
    diff = max((ddp[k] - single[k]).abs().max().item() for k in ddp)
    print(f"\n[{runs['optimiser']}] DDP vs 1 process after {ITERS} steps: max |diff| "
          f"{diff:.2e} (tolerance {runs['tolerance']:.0e}); smallest per-layer max update "
          f"{moved:.2e}; wall seconds {runs['seconds']}")
    assert moved > 100 * runs['tolerance']  # every prompt tensor trained: no vacuous match
    assert diff <= runs['tolerance']


def test_each_rank_keeps_its_own_prefix_cache(runs):
    if not runs['optimiser'].endswith('cached'):
        pytest.skip('a run without the prefix cache')
    ranks = [_load(runs['ddp'], f'cache_rank{r}.pth') for r in (0, 1)]
    single = _load(runs['single'], 'cache_rank0.pth')
    # batch 1 per rank: every rank looked its own image up at every step, and stored it
    for stats in ranks:
        assert stats['hits'] + stats['misses'] == ITERS and stats['entries'] == stats['misses']
    assert single['hits'] + single['misses'] == 2 * ITERS
    assert sum(s['entries'] for s in ranks) == single['entries']  # the images split by rank


def test_a_run_ends_its_process_group_before_the_interpreter_exits(tmp_path):
    """tools/train.py and test.py end the process group themselves: left to interpreter
    exit, a gloo rank could abort after a finished run (SIGABRT), failing the job."""
    import torch.distributed as dist

    from mmdet_sdpt.utils.dist import end_process_group
    end_process_group()  # none up: nothing to do
    dist.init_process_group('gloo', init_method=f'file://{tmp_path / "store"}', rank=0,
                            world_size=1)
    assert dist.is_initialized()
    end_process_group()
    assert not dist.is_initialized()
