"""A small BERT saved to a local ``from_pretrained`` directory, built from random weights.

No BERT can be downloaded in tests or CI; mmdet's GLIP loads its language model with
``from_pretrained(name)``, so tests and the demo point ``name`` at a directory made here.
The vocabulary holds the given words whole (new class names are new words, not [UNK]),
plus single characters and their '##' continuations so that any other text tokenizes.
"""
import os
import os.path as osp
import string
from typing import Iterable

SPECIAL = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']


def tiny_vocab(words: Iterable[str]) -> list:
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    vocab = SPECIAL + chars + ['##' + c for c in string.ascii_lowercase + string.digits]
    for word in sorted({w.lower() for text in words for w in text.replace('.', ' ').split()}):
        if word not in vocab:
            vocab.append(word)
    return vocab


def make_tiny_bert(out_dir: str, words: Iterable[str] = (), hidden_size: int = 64,
                   num_layers: int = 2, num_heads: int = 2, seed: int = 0,
                   vocab_size: int = 0, intermediate_size: int = 0) -> str:
    """Write config, vocab, tokenizer and random weights of a small BERT to ``out_dir``.

    ``vocab_size`` / ``intermediate_size`` (0: from the vocabulary / 4 x hidden) let it take
    bert-base-uncased's sizes (30522 / 3072 with hidden 768, 12 layers, 12 heads) when a
    full-size model is measured without downloading one.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    os.makedirs(out_dir, exist_ok=True)
    vocab = tiny_vocab(words)
    vocab_file = osp.join(out_dir, 'vocab.txt')
    with open(vocab_file, 'w') as f:
        f.write('\n'.join(vocab) + '\n')
    config = BertConfig(vocab_size=max(vocab_size, len(vocab)), hidden_size=hidden_size,
                        num_hidden_layers=num_layers, num_attention_heads=num_heads,
                        intermediate_size=intermediate_size or 4 * hidden_size,
                        max_position_embeddings=512)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        BertModel(config, add_pooling_layer=False).save_pretrained(out_dir)
    finally:
        torch.random.set_rng_state(state)
    BertTokenizerFast(vocab_file=vocab_file, do_lower_case=True).save_pretrained(out_dir)
    return out_dir
