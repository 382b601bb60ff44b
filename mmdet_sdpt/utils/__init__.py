from .tiny_bert import make_tiny_bert

__all__ = ['make_tiny_bert']
