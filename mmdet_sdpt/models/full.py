from ..registry import TUNERS
from .base_tuner import BaseTuner


@TUNERS.register_module()
class FullFineTuning(BaseTuner):
    """GLIP's ``full`` mode: every tensor trains (the reference all tuners are judged by,
    and how the demo's tiny base detector is pretrained)."""

    method = 'full'
    tunes_base_tensors = True

    def inject(self, detector) -> None:
        pass

    def trainable(self, name: str) -> bool:
        return True
