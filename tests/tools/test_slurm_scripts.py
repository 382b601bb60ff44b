"""tools/slurm_{train,test}.sh hand srun the right command (a stand-in srun prints it)."""
import os
import stat
import subprocess

from tests.helpers import ROOT


def _srun_line(tmp_path, script, *args):
    srun = tmp_path / 'srun'
    srun.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}', GPUS='4', PYTHON='py')
    out = subprocess.run(['bash', os.path.join(ROOT, 'tools', script), *args], env=env,
                         capture_output=True, text=True, check=True)
    return out.stdout.splitlines()


def test_slurm_train_passes_work_dir_launcher_and_user_args(tmp_path):
    argv = _srun_line(tmp_path, 'slurm_train.sh', 'part', 'job', 'c.py', 'w d', '--amp')
    assert argv[:2] == ['-p', 'part'] and '--ntasks=4' in argv
    tail = argv[argv.index('-u'):]  # py -u SCRIPT ARGS...
    assert tail[2:] == ['c.py', '--work-dir=w d', '--amp', '--launcher=slurm']
    assert tail[1].endswith('tools/train.py')


def test_slurm_test_passes_checkpoint(tmp_path):
    argv = _srun_line(tmp_path, 'slurm_test.sh', 'part', 'job', 'c.py', 'a.pth')
    tail = argv[argv.index('-u'):]  # py -u SCRIPT ARGS...
    assert tail[1].endswith('tools/test.py') and tail[2:] == ['c.py', 'a.pth', '--launcher=slurm']
