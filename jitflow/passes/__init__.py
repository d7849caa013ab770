"""IR -> IR passes and the PassManager that runs a backend's pipeline."""
from .autodiff import expand_gradients, vjp
from .dce import dce
from .manager import PIPELINES, Pass, PassManager, pipeline_for

__all__ = ["PIPELINES", "Pass", "PassManager", "dce", "expand_gradients", "pipeline_for", "vjp"]
