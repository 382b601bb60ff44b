from .prompt_visualizer import PromptVisualizer, side_by_side

__all__ = ['PromptVisualizer', 'side_by_side']
