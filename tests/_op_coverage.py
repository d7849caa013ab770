"""Shared by the op test files: ops of families they do not own must be named by the tests of
their own family (tests/test_nn_*.py, ...), a real check instead of a skip."""
import re
from pathlib import Path

#: the neural-network op families (once one module, jitflow/ops/nn.py), tested together
NN_MODULES = tuple(f"jitflow.ops.{m}" for m in ("activations", "classify", "conv", "conv_fused", "gather",
                                                 "layout", "pool", "reduce_extra", "softmax",
                                                 "window"))
NN_TESTS = ("test_nn_ops.py", "test_nn_gradients.py", "test_llvm_nn.py")

#: where the ops of other families are tested
FAMILY_TESTS = {**{m: NN_TESTS for m in NN_MODULES},
                "jitflow.ops.bitwise": ("test_bitwise_ops.py", "test_cuda_ops.py"),
                "jitflow.ops.custom_grad": ("test_custom_gradient.py",),
                "jitflow.ops.debug": ("test_check_numerics.py",),
                "jitflow.ops.math_unary": ("test_math_unary_ops.py",),
                "jitflow.ops.scan": ("test_scan_ops.py",),
                "jitflow.ops.transfer": ("test_cuda_placement.py",),
                "jitflow.ops.control": ("test_control_flow_ir.py", "test_control_flow_cuda.py"),
                "jitflow.ops.host": ("test_host_callbacks.py", "test_data_dependent_shapes.py",
                                     "test_computed_shapes.py"),
                "jitflow.ops.complex_ops": ("test_dtypes_narrow.py",),
                "jitflow.ops.bitwise": ("test_bitwise_ops.py",),
                "jitflow.ops.linalg_solve": ("test_linalg_solve.py",),
                "jitflow.ops.linalg_decomp": ("test_linalg_decomp.py",),
                "jitflow.ops.ctc": ("test_ctc_loss.py",),
                "jitflow.ops.ctc_beam": ("test_ctc_beam_search.py",),
                "jitflow.ops.sparse": ("test_sparse_ops.py", "test_sparse_math.py"),
                "jitflow.ops.detection": ("test_image_nms.py",),
                "jitflow.ops.random_host": ("test_random_gamma_poisson.py",),
                "jitflow.ops.bbox_sample": ("test_sample_distorted_bbox.py",),
                "jitflow.ops.quant": ("test_fake_quant.py", "test_fake_quant_cuda.py"),
                "jitflow.ops.gather_tree": ("test_beam_search.py",)}


def assert_tested_by_family(name: str, family: str) -> None:
    files = FAMILY_TESTS.get(family, ())
    here = Path(__file__).parent
    text = "".join((here / f).read_text() for f in files if (here / f).exists())
    assert re.search(rf"\b{re.escape(name)}\b", text), \
        f"{name} ({family}): no test in {files} names it; add one there or a probe here"
