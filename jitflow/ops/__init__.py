"""Op families. Importing this package registers every op in ``jitflow.ir.OPS``."""
from . import array, control, debug, elementwise, gradients, indexing, linalg, nn, random, reduce, transfer  # noqa: F401,E501
