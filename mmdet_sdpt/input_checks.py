"""Checks of what a served request brings, before it costs anything: the image (size in
bytes, a readable header, its pixels, all known before decoding) and the prompt (class
names past the text encoder's token cap).

- ``read_image(source, max_pixels, max_bytes)``: an RGB array of an image file (path or
  bytes), or ``ImageRefused`` naming what is wrong: empty, too many bytes, not an image,
  too many pixels (from the header: PIL's ``Image.open`` reads only the header; pixels are
  decoded after the check), truncated.
- ``check_prompt(model, text)``: the classes of a ``'a . b . c'`` prompt whose tokens do not
  all fit the model's text encoder (``language_model.max_tokens``, and for Grounding DINO
  its head's ``max_text_len`` too): BERT truncates the prompt there, so those classes are
  never (or only partly) read and their boxes never come. ``PromptCheck.message`` and
  ``PromptTooLongWarning`` say so, naming them.
"""
import io
import os
import os.path as osp
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np

DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels (e.g. 8000 x 5000)
DEFAULT_MAX_BYTES = 50 * 2**20  # 50 MiB
NAMED_CLASSES = 20  # a warning names at most this many cut classes


class ImageRefused(ValueError):
    """The file is not an image this server takes; the message says why."""


class PromptTooLongWarning(UserWarning):
    """Class names of a prompt fall past the text encoder's token cap."""


def megapixels(n: float) -> str:
    """``n`` pixels in megapixels, 3 significant digits: '81', '40', '0.0164'."""
    return f'{n / 1e6:.3g}'


def _size(n: float) -> str:
    return f'{n / 2**20:.1f}'.rstrip('0').rstrip('.') + ' MiB' if n >= 2**20 \
        else f'{int(n)} bytes'


def read_image(source: Union[str, os.PathLike, bytes], max_pixels: Optional[int] =
               DEFAULT_MAX_PIXELS, max_bytes: Optional[int] = DEFAULT_MAX_BYTES,
               name: Optional[str] = None) -> np.ndarray:
    """The RGB array (H, W, 3, uint8) of the image file ``source`` (a path or its bytes),
    EXIF orientation applied; ``ImageRefused`` naming the problem before any pixel is
    decoded when the file is empty, over ``max_bytes``, not an image or over ``max_pixels``
    (None: no cap)."""
    from PIL import Image, ImageOps, UnidentifiedImageError
    if isinstance(source, (bytes, bytearray)):
        name = name or 'the image'
        size, stream = len(source), io.BytesIO(source)
    else:
        name = name or f"'{osp.basename(os.fspath(source))}'"
        size, stream = os.path.getsize(source), None
    if size == 0:
        raise ImageRefused(f'{name} is empty (0 bytes): upload an image file '
                           '(PNG, JPEG, WebP, BMP, ...).')
    if max_bytes is not None and size > max_bytes:
        raise ImageRefused(f'{name} is {_size(size)}; this server takes images of at most '
                           f'{_size(max_bytes)}.')
    try:  # the header only: no pixel is decoded here
        image = Image.open(stream if stream is not None else source)
    except Image.DecompressionBombError as e:  # PIL's own cap (2 x MAX_IMAGE_PIXELS)
        raise ImageRefused(f'{name} has too many pixels ({e}); this server takes at most '
                           f'{megapixels(max_pixels or Image.MAX_IMAGE_PIXELS)} megapixels.')
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise ImageRefused(f'{name} is not an image ({_size(size)} that no image format '
                           'reads): upload a PNG, JPEG, WebP, BMP, ... file.') from e
    with image:
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageRefused(
                f'{name} is {width}x{height} pixels ({megapixels(width * height)} '
                f'megapixels); this server takes at most {megapixels(max_pixels)} '
                'megapixels: downscale it first.')
        try:
            image.load()
            try:
                image = ImageOps.exif_transpose(image)
            except Exception:  # a broken EXIF block: the pixels as stored
                pass
            rgb = np.asarray(image.convert('RGB'))
        except (OSError, SyntaxError, ValueError) as e:
            raise ImageRefused(f'{name} could not be decoded ({e}): the file is broken or '
                               'truncated.') from e
    return rgb


# --- the prompt ---------------------------------------------------------------------------
def token_cap(model) -> Optional[int]:
    """How many tokens of a prompt (specials included) the text encoder of ``model`` reads:
    its ``language_model.max_tokens``, and no more than its head's ``max_text_len`` where it
    has one (Grounding DINO); None when the model has no such encoder."""
    lm = getattr(model, 'language_model', None)
    cap = getattr(lm, 'max_tokens', None)
    if cap is None:
        return None
    branches = getattr(getattr(model, 'bbox_head', None), 'cls_branches', None)
    if branches is not None and len(branches):
        cap = min(cap, getattr(branches[-1], 'max_text_len', cap) or cap)
    return int(cap)


def _last_token(tokenized, begin: int, end: int) -> Optional[int]:
    for char in range(end - 1, begin - 1, -1):  # mmdet's spans may end on a space
        token = tokenized.char_to_token(char)
        if token is not None:
            return token
    return None


class PromptCheck(NamedTuple):
    """``cut``: the classes whose tokens do not all fit ``cap`` tokens; ``total``: the
    prompt's classes."""
    cut: Tuple[str, ...] = ()
    cap: Optional[int] = None
    total: int = 0

    @property
    def message(self) -> str:
        """The warning naming the cut classes ('' when none is cut)."""
        if not self.cut:
            return ''
        cut = self.cut
        names = ', '.join(repr(c) for c in cut[:NAMED_CLASSES])
        more = f' and {len(cut) - NAMED_CLASSES} more' if len(cut) > NAMED_CLASSES else ''
        return (f'{len(cut)} of the {self.total} class names fall past the text encoder\'s '
                f'{self.cap}-token cap (language_model.max_tokens) and will not be detected: '
                f'{names}{more}. Use fewer or shorter class names.')


def check_prompt(model, text: Optional[str]) -> PromptCheck:
    """The classes of ``text`` (class names separated by ' . ', as mmdet's custom entities
    read it) whose tokens do not all fit the text encoder of ``model``. The model's own
    ``get_tokens_and_prompts`` builds the caption (GLIP and Grounding DINO); the encoder
    keeps ``cap`` tokens, the last of them [SEP], so a class is cut when its last token's
    position is past ``cap - 2``. Chunked prompts (``test_cfg.chunked_size``) are not cut."""
    cap = token_cap(model)
    if cap is None or not text or not hasattr(model, 'get_tokens_and_prompts'):
        return PromptCheck(cap=cap)
    test_cfg = getattr(model, 'test_cfg', None) or {}
    if test_cfg.get('chunked_size', -1) > 0:
        return PromptCheck(cap=cap)
    tokenized, _, spans, entities = model.get_tokens_and_prompts(text, True)
    cut = []
    if tokenized.input_ids.shape[-1] > cap:  # else nothing is truncated
        for entity, entity_spans in zip(entities, spans):
            last = max((_last_token(tokenized, b, e) or 0) for b, e in entity_spans)
            if last > cap - 2:
                cut.append(entity.strip())
    return PromptCheck(tuple(cut), cap, len(entities))
