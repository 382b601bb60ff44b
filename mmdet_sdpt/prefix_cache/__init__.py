"""Cache what the frozen prefix of a tuned detector computes (``model.prefix_cache``).

One job per module: ``store`` (the LRU of per-sample states), ``cuts`` (where each
detector family's prefix ends, how it is captured and served), ``session`` (the serving
overrides and the session they read), ``cache`` (the coordinator on the detector).

A parameter-efficient tuner trains a few tensors from some layer on; everything before that
layer (the *prefix*: Swin, FPN, BERT and, with prompts in later layers only, the first
fusion blocks) is frozen and in eval mode, so on a given image and prompt it computes the
same state at every step. Few-shot tuning feeds the same few images again and again, and
each validation runs the same prefix on the same images: this cache keeps the state the
prefix hands to the first tuned layer, per sample, and a step whose samples all hit runs
only the rest of the network.

**Where the cut is** (the first module, in forward order, that holds a trainable tensor or
a tuner module):

- GLIP: block ``c`` of ``bbox_head.head.dyhead_tower`` (VLFuse, BERT layer, DyConv per
  fusion layer); the cached state is what that block receives: the five visual levels and
  the language dict (``embedded``, ``masks``, ``hidden``). Nothing tuned in the tower
  (linear probe): the tower's output is cached, and the step runs only the box/class
  heads. The prefix is ``backbone``, ``neck``, ``language_model`` and the tower's first
  ``c`` blocks.
- Grounding DINO: encoder layer ``c`` (fusion layer, text layer, deformable layer); the
  cached state is what its fusion layer receives (visual tokens ``(N, 256)``, text tokens
  ``(T, 256)``), plus the language model's dict (masks, position ids, text token mask) and
  the feature maps' shapes. Grounding DINO's encoder loop cannot start at a layer: a cached
  step gives ``extract_feat`` zero maps of the cached shapes (``pre_transformer`` then
  recomputes padding masks, positions, spatial shapes, level starts and valid ratios, which
  depend on shapes and metainfo only), replaces the encoder's ``query`` and ``memory_text``
  by the cached state, and lets the layers before ``c`` pass their inputs through. The
  decoder always runs: it follows the encoder.

**Refusal.** Any trainable tensor or tuner module in the prefix (full fine-tuning, BitFit,
LoRA in the backbone or BERT, VPT, language_prompt_v2), or a prefix module in training
mode, stops with ``PrefixCacheError``: the cached state would be stale.

**Keys** make a hit exact: the padded image tensor the backbone receives (a hash of its
bytes: covers the image and every augmentation that changed it: flip, scale, crop,
padding), its ``img_shape`` and ``batch_input_shape`` (Grounding DINO's padding masks), the
text prompt as given (class order included), ``custom_entities``, ``caption_prompt``,
``tokens_positive`` and the mode ('loss' or 'predict': their captions may differ). With
prompts in later layers the cached state depends on the text: shuffled prompts
(``ShuffleClassPrompt``) give no hits; the hit rate is logged.

**Exactness.** A batch whose samples all miss computes its prefix as the uncached model
does and is then served from the stored copies: bit for bit in fp32. A hit on a sample
stored from a batch composed otherwise (or a partial hit, whose misses run as a smaller
batch) differs from the uncached step by the float noise of batched kernels only (the
prefix computes each sample independently: eval-mode norms, per-sample attention). With
``dtype='float16'`` the state is rounded to fp16 (relative error <= 2^-11 per value) for
hits and misses alike, so such runs stay deterministic.

**Memory**: an LRU of at most ``max_bytes``, on the CPU (``device='cpu'``, default) or the
model's device (``'same'``). The cache is cleared when any prefix tensor changes (a base
checkpoint loaded, the model moved). Under DDP every rank keeps its own cache.
"""
from .cache import (PrefixCache, attach_prefix_cache, format_stats, prefix_cache_of,
                    sample_key)
from .cuts import GLIPPrefix, GroundingDINOPrefix, PrefixCacheError, PrefixCut, prefix_cut
from .store import PrefixStore

__all__ = ['PrefixCache', 'PrefixCacheError', 'PrefixStore', 'attach_prefix_cache',
           'prefix_cache_of', 'format_stats', 'sample_key', 'GLIPPrefix',
           'GroundingDINOPrefix', 'PrefixCut', 'prefix_cut']
