"""What the resumable benchmarks (federated.py, robust.py, self_tpt.py) share: finished
pieces kept in the work root, the tools run as a user runs them, and the outputs written
(results JSON and Markdown, the page's generated block)."""
import json
import os
import os.path as osp
import re
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from mmdet_sdpt.utils.atomic_io import atomic_write  # noqa: E402


class Pieces:
    """Finished pieces of a benchmark, {key: figure}, kept (atomically) in
    ``work_root/results.json``: a stopped run goes on where it stopped."""

    def __init__(self, work_root: str):
        self.root = work_root
        os.makedirs(work_root, exist_ok=True)
        self.file = osp.join(work_root, 'results.json')
        self.cache = json.load(open(self.file)) if osp.exists(self.file) else {}

    def cached(self, key, compute):
        """``key``'s figure, computed once."""
        if key not in self.cache:
            start = time.time()
            self.cache[key] = compute()
            print(f'[{time.time() - start:6.0f} s] {key}: {self.cache[key]}', flush=True)
            self.save()
        return self.cache[key]

    def save(self) -> None:
        atomic_write(self.file, json.dumps(self.cache, indent=1, sort_keys=True))

    def tool(self, name: str, *args, env: dict) -> None:
        """``tools/<name> ARGS``, its output appended to ``work_root/tools.log``."""
        with open(osp.join(self.root, 'tools.log'), 'a') as log:
            subprocess.run([sys.executable, osp.join(ROOT, 'tools', name), *args], check=True,
                           cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def update_block(path: str, begin: str, end: str, text: str) -> None:
    """Replace what lies between the markers ``begin`` and ``end`` of page ``path``."""
    content = open(path).read()
    if begin not in content or end not in content:
        raise SystemExit(f'error: {path} has no {begin} ... {end} block')
    atomic_write(path, re.sub(re.escape(begin) + '.*?' + re.escape(end),
                              lambda _: f'{begin}\n{text}{end}', content, flags=re.S))


def write_outputs(out: str, summary: dict, pieces: dict, text: str, readme: str,
                  begin: str, end: str) -> None:
    """``out``.json (the summary and every piece), ``out``.md (the table) and, with
    ``readme``, the page's block; the table printed."""
    os.makedirs(osp.dirname(out), exist_ok=True)
    atomic_write(out + '.json', json.dumps(dict(summary, pieces=pieces), indent=1,
                                           sort_keys=True))
    atomic_write(out + '.md', text)
    if readme:
        update_block(readme, begin, end, text)
    print(text)
