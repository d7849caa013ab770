"""``tf.data`` (host-side input pipelines) and the host-only string ops; see
docs/input_pipelines.md for where the pipeline runs and how it feeds a compiled step."""
from .dataset import AUTOTUNE, Dataset, DatasetV1  # noqa: F401
from .iterator import (Iterator, get_output_shapes, get_output_types,  # noqa: F401
                       make_initializable_iterator, make_one_shot_iterator)
from .structure import Spec as TensorSpec, string  # noqa: F401
