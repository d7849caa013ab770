"""Op families. Importing this package registers every op in ``jitflow.ir.OPS``.

One module per family; each op's whole story (attributes, type rule, reference, gradient,
traits) is one ``defop`` record in its family's module."""
from . import (activations, array, bbox_sample, bitwise, classify, complex_ops, control,  # noqa: F401
               conv, conv_fused, ctc, ctc_beam, custom_grad, debug, detection, elementwise,
               gather, gather_tree, gradients, host, indexing, layout, linalg, linalg_decomp,
               linalg_solve, math_unary, pool, quant, random, random_host, reduce, reduce_extra,
               scan, softmax, sparse, transfer)
