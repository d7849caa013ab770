"""Dense linear algebra on batches of square matrices ``[..., n, n]`` (float32/float64):
``matrix_inverse``, ``matrix_determinant``, ``cholesky`` and ``matrix_solve``, as TF1's
MatrixInverse, MatrixDeterminant, Cholesky and MatrixSolve.

Their gradients are built from IR ops (matmul, transpose, these ops themselves). No native
backend has a kernel for them yet (a pivoting factorization per matrix is a library kernel
still to write): a Session places them on the host device (runtime/placement.py), where the
reference interpreter runs them between the backend's native segments."""
from __future__ import annotations

import numpy as np

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .common import require_dtype, require_same_dtype

_NO_KERNEL = ("a batched LU/Cholesky factorization kernel is not written yet: a Session runs "
              "the op on the host (reference interpreter) between native segments")
_UNLOWERED = {"llvm": _NO_KERNEL, "cuda": _NO_KERNEL}


def _square(t: TensorType, what: str) -> None:
    require_dtype(t, "f", what)
    if t.dtype.name not in ("float32", "float64"):
        raise TypeError(f"{what} must be float32 or float64, got {t.dtype.name}")
    if t.shape is None:
        return
    if t.rank < 2:
        raise ShapeMismatch(f"Shape must be at least rank 2 but is rank {t.rank}: {what} "
                            f"has shape {list(t.shape)}")
    m, n = t.shape[-2:]
    if isinstance(m, int) and isinstance(n, int) and m != n:
        raise ShapeMismatch(f"{what} must be square matrices [..., n, n], got shape "
                            f"{list(t.shape)}")


def _same_infer(types, attrs, what: str) -> TensorType:
    _square(types[0], what)
    return types[0]


def _det_infer(types, attrs) -> TensorType:
    _square(types[0], "matrix_determinant input")
    t = types[0]
    return TensorType(t.dtype, None if t.shape is None else t.shape[:-2])


def solve_infer(types, what: str) -> TensorType:
    """The type rule of a solve ``a x = rhs`` (``what`` names the op in errors): a square
    ``a`` [..., n, n] and ``rhs`` [..., n, k] of the same rank, dtype and leading dims."""
    a, rhs = types
    dt = require_same_dtype(types, f"{what} operands")
    _square(a, f"{what} matrix")
    if a.shape is None or rhs.shape is None:
        return TensorType(dt, None if rhs.shape is None else rhs.shape)
    if rhs.rank != a.rank:
        raise ShapeMismatch(f"{what}: the right-hand side must have the matrix's rank "
                            f"{a.rank}, got shape {list(rhs.shape)} for matrix "
                            f"{list(a.shape)}")
    for i, (p, q) in enumerate(zip(a.shape[:-1], rhs.shape[:-1])):
        if isinstance(p, int) and isinstance(q, int) and p != q:
            raise ShapeMismatch(f"{what}: dim {i} of the matrix ({list(a.shape)}) and "
                                f"of the right-hand side ({list(rhs.shape)}) must be equal")
    return TensorType(dt, rhs.shape)


def _solve_infer(types, attrs) -> TensorType:
    return solve_infer(types, "matrix_solve")


def _check_finite_inverse(x: np.ndarray, what: str) -> None:
    if x.size and not np.all(np.isfinite(x)):
        raise InvalidArgumentError(f"{what}: Input is not invertible.")


def _inv_ref(x, adjoint):
    m = np.swapaxes(x, -1, -2) if adjoint else x
    try:
        out = np.linalg.inv(m)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("matrix_inverse: Input is not invertible.") from None
    _check_finite_inverse(out, "matrix_inverse")
    return out.astype(x.dtype)


def _det_ref(x):
    return np.linalg.det(x).astype(x.dtype)


def _cholesky_ref(x):
    try:
        return np.linalg.cholesky(x).astype(x.dtype)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("Cholesky decomposition was not successful. The input "
                                   "might not be valid.") from None


def _solve_ref(a, rhs, adjoint):
    m = np.swapaxes(a, -1, -2) if adjoint else a
    try:
        out = np.linalg.solve(m, rhs)
    except np.linalg.LinAlgError:
        raise InvalidArgumentError("matrix_solve: Input matrix is not invertible.") from None
    return out.astype(rhs.dtype)


def _mt(b, v):
    """The transpose of the last two axes."""
    r = v.type.rank
    return b.transpose(v, perm=tuple(range(r - 2)) + (r - 1, r - 2))


def _inv_grad(b, op, g):
    """d(A^-1) = -A^-1 dA A^-1, so gA = -A^-T g A^-T (with ``adjoint``: its transpose)."""
    inv = op.results[0]
    ga = b.neg(b.matmul(b.matmul(inv, g[0], transpose_a=True), inv, transpose_b=True))
    return [_mt(b, ga) if op.attrs["adjoint"] else ga]


def _unsqueeze2(b, v):
    return b.expand_dims(b.expand_dims(v, axis=-1), axis=-1)


def _det_grad(b, op, g):
    """d det(A) = det(A) tr(A^-1 dA), so gA = g det(A) A^-T."""
    a, = op.operands
    scale = _unsqueeze2(b, b.mul(g[0], op.results[0]))
    return [b.mul(scale, b.matrix_inverse(a, adjoint=True))]


def _cholesky_grad(b, op, g):
    """TF's formula (Murray 2016): with P = L^T g made lower triangular with its diagonal
    halved, gA = sym(L^-T P L^-1), sym(X) = (X + X^T) / 2."""
    ell = op.results[0]
    n = ell.type.shape[-1]
    if not isinstance(n, int):
        raise NotImplementedError(f"the gradient of cholesky needs the matrix size known when "
                                  f"the graph is built, got shape {ell.type.shape}")
    mask = np.tril(np.ones((n, n)), -1) + 0.5 * np.eye(n)
    middle = b.mul(b.matmul(ell, g[0], transpose_a=True), b.const(mask, ell.type.dtype))
    linv = b.matrix_inverse(ell)
    ga = b.matmul(b.matmul(linv, middle, transpose_a=True), linv)
    return [b.mul(b.add(ga, _mt(b, ga)), 0.5)]


def _solve_grad(b, op, g):
    """X = A^-1 B: gB = A^-T g, gA = -gB X^T (with ``adjoint``, X = A^-T B: gB = A^-1 g,
    gA = -X gB^T)."""
    a, _ = op.operands
    x = op.results[0]
    adj = op.attrs["adjoint"]
    gb = b.matrix_solve(a, g[0], adjoint=not adj)
    ga = b.matmul(x, gb, transpose_b=True) if adj else b.matmul(gb, x, transpose_b=True)
    return [b.neg(ga), gb]


defop("matrix_inverse", kind="library", cost="expensive", num_inputs=1,
      attrs={"adjoint": Attr("bool", False)},
      infer=lambda t, a: _same_infer(t, a, "matrix_inverse input"), reference=_inv_ref,
      grad=_inv_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.inv / tf.matrix_inverse: the inverse of each [n, n] matrix (of its "
          "transpose with adjoint)")
defop("matrix_determinant", kind="library", cost="expensive", num_inputs=1, infer=_det_infer,
      reference=_det_ref, grad=_det_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.det / tf.matrix_determinant: [..., n, n] -> [...]")
defop("cholesky", kind="library", cost="expensive", num_inputs=1,
      infer=lambda t, a: _same_infer(t, a, "cholesky input"), reference=_cholesky_ref,
      grad=_cholesky_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.cholesky: the lower-triangular L with L L^T = A (A symmetric positive "
          "definite; only its lower triangle is read)")
defop("matrix_solve", kind="library", cost="expensive", num_inputs=2,
      attrs={"adjoint": Attr("bool", False)}, infer=_solve_infer, reference=_solve_ref,
      grad=_solve_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.solve / tf.matrix_solve: X with A X = B (A^T X = B with adjoint)")
