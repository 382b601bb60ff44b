"""The README stays short and its guides stay reachable: the README is under 200 lines, every
relative link of README.md and docs/*.md (links and images) names a file that exists, and the
README links every page of docs/."""
import glob
import os.path as osp
import re

import pytest

from tests.helpers import ROOT

README = osp.join(ROOT, 'README.md')
PAGES = sorted(glob.glob(osp.join(ROOT, 'docs', '*.md')))
# [text](target) and ![alt](target); the target ends at whitespace or ')' (an optional
# "title" after a space is not part of it)
LINK = re.compile(r'!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
FENCE = re.compile(r'^(```|~~~).*?^\1\s*$', re.S | re.M)


def relative_links(path):
    """The relative targets of the markdown links of ``path`` (code blocks left out), without
    their #anchors; http(s) URLs, mailto and bare #anchors are skipped."""
    text = FENCE.sub('', open(path, encoding='utf-8').read())
    text = re.sub(r'`[^`\n]*`', '', text)  # inline code is no link
    targets = []
    for target in LINK.findall(text):
        if re.match(r'^[a-z][a-z0-9+.-]*:', target, re.I) or target.startswith('#'):
            continue
        targets.append(target.split('#')[0])
    return targets


def test_the_readme_is_under_200_lines():
    with open(README, encoding='utf-8') as f:
        lines = f.read().splitlines()
    assert len(lines) < 200, f'README.md has {len(lines)} lines: move text to docs/'


def test_there_are_guides():
    assert PAGES, 'docs/ holds no page'


@pytest.mark.parametrize('path', [README] + PAGES,
                         ids=lambda p: osp.relpath(p, ROOT))
def test_every_relative_link_resolves(path):
    broken = [t for t in relative_links(path)
              if not osp.exists(osp.normpath(osp.join(osp.dirname(path), t)))]
    assert not broken, f'{osp.relpath(path, ROOT)} links to missing files: {broken}'


def test_the_readme_links_every_page():
    linked = {osp.normpath(osp.join(ROOT, t)) for t in relative_links(README)}
    missing = [osp.relpath(p, ROOT) for p in PAGES if osp.normpath(p) not in linked]
    assert not missing, f'README.md does not link {missing}'
