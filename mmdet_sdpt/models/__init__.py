from .base_tuner import BaseTuner
from .full import FullFineTuning
from .post_build import DisableDCN, RebuildVLFusion
from .sdpt import SDPT, UnifiedPrototypeTokens, inverse_projection
from .tuned_detector import TunedDetector, attach_tuner, load_base_checkpoint

__all__ = [
    'BaseTuner', 'FullFineTuning', 'SDPT', 'UnifiedPrototypeTokens', 'inverse_projection', 'TunedDetector',
    'attach_tuner', 'load_base_checkpoint', 'RebuildVLFusion', 'DisableDCN'
]
from .linear_probe import LinearProbe  # noqa: E402,F401
from .language_prompt import LanguagePromptV2  # noqa: E402,F401
from .bitfit import BitFit  # noqa: E402,F401
from .lora import LoRA  # noqa: E402,F401
from . import vpt, coupled_prompts, sep, reparameterized_prompts  # noqa: E402,F401  (register)
from .domain_sdpt import DomainAwareSDPT  # noqa: E402,F401
from .self_tpt import SelfTPT  # noqa: E402,F401
from .template_ensemble import TemplateEnsemble, TemplateEnsembleHook  # noqa: E402,F401
