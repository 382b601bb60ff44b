"""The web page: an image, the class names, zero-shot and the loaded adapters side by side.

    make webui                        # the demo's base and adapter (trains it first if missing)
    python tools/webui.py [--config CONFIG] [--adapter NAME=CHECKPOINT ...] \
        [--texts "ball . box . cone . plus"] [--examples IMG ...] [--port 7860]

Defaults: the demo's config (the tiny GLIP base), its adapter ``work_dirs/demo/iter_300.pth``
as ``demo-sdpt`` (``make demo`` makes it), the demo's transfer test images as examples and
its class names. Open the printed URL; the page runs offline (no analytics, no share link).

Limits (one request cannot stall the page): --max-megapixels (images over it are refused
from their header, before decoding), --max-upload-mb (larger uploads are refused as they
arrive), --concurrency (requests run at once) and --queue-size (requests waiting; the next
is told the page is busy).
"""
import argparse
import glob
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools'))

from mmengine.config import Config, DictAction  # noqa: E402

from infer import adapters_of  # noqa: E402  (tools/infer.py: NAME=CHECKPOINT pairs)
from mmdet_sdpt.input_checks import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS  # noqa: E402

DEMO_CONFIG = 'configs/sdpt/demo_tiny-glip_synthetic.py'
DEMO_ADAPTER = 'demo-sdpt=work_dirs/demo/iter_300.pth'
DEMO_TEXTS = 'ball . box . cone . plus'
DEMO_EXAMPLES = 'data/demo/transfer/test/0000[0-5].png'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--config', default=DEMO_CONFIG, help='the tuned config (its base)')
    # '%(default).0s' prints nothing: these defaults are said in words, not as None
    parser.add_argument('--adapter', nargs='*', metavar='NAME=CHECKPOINT',
                        help=f'adapters to load (default: {DEMO_ADAPTER})%(default).0s')
    parser.add_argument('--texts', default=DEMO_TEXTS, help='class names the page starts with')
    parser.add_argument('--examples', nargs='*',
                        help='example images (default: the demo\'s)%(default).0s')
    parser.add_argument('--score-thr', type=float, default=0.3,
                        help='the slider\'s first value: boxes below it are not drawn')
    parser.add_argument('--host', default='127.0.0.1', help='the address the page listens on')
    parser.add_argument('--port', type=int, default=7860, help='its port')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--max-megapixels', type=float, default=DEFAULT_MAX_PIXELS / 1e6,
                        help='largest image (width x height), checked before decoding')
    parser.add_argument('--max-upload-mb', type=float, default=DEFAULT_MAX_BYTES / 2**20,
                        help='largest upload in MiB')
    parser.add_argument('--concurrency', type=int, default=2, help='requests run at once')
    parser.add_argument('--queue-size', type=int, default=10,
                        help='requests that may wait; the next is told the page is busy')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    if min(args.max_megapixels, args.max_upload_mb) <= 0 or args.concurrency < 1 \
            or args.queue_size < 0:
        parser.error('--max-megapixels and --max-upload-mb must be > 0, --concurrency >= 1 '
                     'and --queue-size >= 0')
    return args


def make_page(args):
    """The page of ``args`` (built, not launched)."""
    import mmdet_sdpt  # noqa: F401
    from mmdet_sdpt.inferencer import TunedInferencer
    from mmdet_sdpt.webui import AdapterPage
    pairs = args.adapter if args.adapter is not None else [DEMO_ADAPTER]
    if args.adapter is None and not osp.isfile(DEMO_ADAPTER.split('=', 1)[1]):
        raise SystemExit('error: the demo adapter work_dirs/demo/iter_300.pth is missing: '
                         'run `make demo` first (or `make webui`, which does), or pass '
                         '--adapter NAME=CHECKPOINT')
    adapters = adapters_of(pairs)
    examples = args.examples
    if examples is None:
        examples = sorted(glob.glob(osp.join(ROOT, DEMO_EXAMPLES)))
    missing = [e for e in examples if not osp.isfile(e)]
    if missing:
        raise SystemExit(f'error: no example image {missing}')
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = TunedInferencer(cfg, adapters=adapters, device=args.device)
    return AdapterPage(inferencer, texts=args.texts, examples=examples,
                       score_thr=args.score_thr,
                       max_pixels=int(args.max_megapixels * 1e6),
                       max_upload_bytes=int(args.max_upload_mb * 2**20),
                       concurrency=args.concurrency, queue_size=args.queue_size).build()


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmdet_sdpt.webui import launch
    page = make_page(args)
    print(f'serving on http://{args.host}:{args.port} (Ctrl+C stops)', flush=True)
    launch(page, host=args.host, port=args.port, block=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
