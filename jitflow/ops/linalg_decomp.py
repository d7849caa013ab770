"""Matrix decompositions on batches ``[..., m, n]`` (float32/float64), as TF1's
MatrixTriangularSolve, SelfAdjointEigV2, Svd, Qr and LogMatrixDeterminant:
``matrix_triangular_solve``, ``self_adjoint_eig`` (e, v), ``svd`` (s, u, v with compute_uv,
else s), ``qr`` (q, r), ``log_matrix_determinant`` (sign, log|det|) and
``matrix_exponential`` (tf.linalg.expm).

Gradients are TF's formulas, built from IR ops (matmul, transpose, masks that need the matrix
sizes static, and these ops themselves). Like ops/linalg_solve.py no native backend has a
kernel: a Session places them on the host device, run by the reference interpreter."""
from __future__ import annotations

import numpy as np
import scipy.linalg

from ..errors import InvalidArgumentError
from ..ir.opdef import Attr, defop
from ..ir.types import ShapeMismatch, TensorType
from .linalg_solve import _UNLOWERED, _mt, _same_infer, _square, _unsqueeze2, solve_infer


def _matrices(t: TensorType, what: str) -> None:
    """float32/float64 of rank >= 2 (any m, n)."""
    if t.dtype.name not in ("float32", "float64"):
        raise TypeError(f"{what} must be float32 or float64, got {t.dtype.name}")
    if t.shape is not None and t.rank < 2:
        raise ShapeMismatch(f"Shape must be at least rank 2 but is rank {t.rank}: {what} "
                            f"has shape {list(t.shape)}")


def _static(v, what: str) -> tuple:
    """The static [m, n] of a matrix Value (the gradients' masks need them)."""
    shape = v.type.shape
    if shape is None or not all(isinstance(d, int) for d in shape[-2:]):
        raise NotImplementedError(f"the gradient of {what} needs the matrix sizes known when "
                                  f"the graph is built, got shape {shape}")
    return shape[-2], shape[-1]


def _cmat(b, arr: np.ndarray, like) -> object:
    """A constant [m, n] matrix shaped [1, ..., 1, m, n] to matmul with ``like``'s batch."""
    arr = np.asarray(arr).reshape((1,) * (like.type.rank - 2) + arr.shape)
    return b.const(arr, like.type.dtype)


def _diag(b, v, k: int):
    """[..., k] -> [..., k, k] with v on the diagonal."""
    return b.mul(b.expand_dims(v, axis=-1), b.const(np.eye(k), v.type.dtype))


def _is_zero(v) -> bool:
    return v is None or (v.producer is not None and v.producer.opname == "zeros_like")


# ---- matrix_triangular_solve --------------------------------------------------------------

def _trisolve_infer(types, attrs) -> TensorType:
    return solve_infer(types, "matrix_triangular_solve")


def _trisolve_ref(a, rhs, lower, adjoint):
    t = np.tril(a) if lower else np.triu(a)
    if a.size and np.any(np.diagonal(t, axis1=-2, axis2=-1) == 0):
        raise InvalidArgumentError("matrix_triangular_solve: Input matrix is not invertible.")
    m = np.swapaxes(t, -1, -2) if adjoint else t
    return np.linalg.solve(m, rhs).astype(rhs.dtype)


def _trisolve_grad(b, op, g):
    """TF's: gB = solve(A^T, g) (solve(A, g) with adjoint), gA = -gB X^T (-X gB^T), kept to
    the triangle the op reads."""
    a, _ = op.operands
    x = op.results[0]
    lower, adj = op.attrs["lower"], op.attrs["adjoint"]
    n, _ = _static(a, "matrix_triangular_solve")
    gb = b.matrix_triangular_solve(a, g[0], lower=lower, adjoint=not adj)
    ga = b.matmul(x, gb, transpose_b=True) if adj else b.matmul(gb, x, transpose_b=True)
    mask = np.tril(np.ones((n, n))) if lower else np.triu(np.ones((n, n)))
    return [b.mul(b.neg(ga), b.const(mask, ga.type.dtype)), gb]


# ---- self_adjoint_eig ---------------------------------------------------------------------

def _eig_infer(types, attrs):
    t = types[0]
    _square(t, "self_adjoint_eig input")
    if t.shape is None:
        return [TensorType(t.dtype, None), t]
    return [TensorType(t.dtype, t.shape[:-1]), t]


def _eig_ref(x):
    e, v = np.linalg.eigh(x, UPLO="L")
    return e.astype(x.dtype), v.astype(x.dtype)


def _eig_grad(b, op, g):
    """TF's: gA = V (diag(ge) + F * (V^T gv)) V^T with F_ij = 1/(e_j - e_i) off the diagonal
    (0 on it), then symmetrized onto the lower triangle the op reads (diagonal halved)."""
    e, v = op.results
    ge, gv = g
    n, _ = _static(v, "self_adjoint_eig")
    dt = v.type.dtype
    eye = np.eye(n)
    inner = b.zeros_like(v) if _is_zero(ge) else _diag(b, ge, n)
    if not _is_zero(gv):
        diff = b.sub(b.expand_dims(e, axis=-2), b.expand_dims(e, axis=-1))
        f = b.mul(b.reciprocal(b.add(diff, b.const(eye, dt))), b.const(1 - eye, dt))
        inner = b.add(inner, b.mul(f, b.matmul(v, gv, transpose_a=True)))
    ga = b.matmul(v, b.matmul(inner, v, transpose_b=True))
    ga = b.add(ga, _mt(b, ga))
    mask = np.tril(np.ones((n, n)), -1) + 0.5 * eye
    return [b.mul(ga, b.const(mask, dt))]


# ---- svd ----------------------------------------------------------------------------------

def _svd_infer(types, attrs):
    t = types[0]
    _matrices(t, "svd input")
    if t.shape is None:
        s = u = v = TensorType(t.dtype, None)
    else:
        m, n = t.shape[-2:]
        k = min(m, n) if isinstance(m, int) and isinstance(n, int) else None
        batch = t.shape[:-2]
        full = attrs["full_matrices"]
        s = TensorType(t.dtype, batch + (k,))
        u = TensorType(t.dtype, batch + (m, m if full else k))
        v = TensorType(t.dtype, batch + (n, n if full else k))
    return [s, u, v] if attrs["compute_uv"] else [s]


def _svd_ref(x, full_matrices, compute_uv):
    if not compute_uv:
        return np.linalg.svd(x, compute_uv=False).astype(x.dtype)
    u, s, vh = np.linalg.svd(x, full_matrices=full_matrices)
    return s.astype(x.dtype), u.astype(x.dtype), np.swapaxes(vh, -1, -2).astype(x.dtype)


def _safe_reciprocal(b, x, eps: float = 1e-20):
    return b.mul(x, b.reciprocal(b.add(b.mul(x, x), eps)))


def _svd_grad(b, op, g):
    """TF's _SvdGrad: without compute_uv, gA = U diag(gs) V^T; with it, the full formula
    (for m > n it differentiates A^T = V S U^T and transposes)."""
    a, = op.operands
    m, n = _static(a, "svd")
    if not op.attrs["compute_uv"]:
        _, u, v = b.svd(a, full_matrices=False, compute_uv=True)
        k = min(m, n)
        return [b.matmul(u, b.matmul(_diag(b, g[0], k), v, transpose_b=True))]
    s, u, v = op.results
    gs, gu, gv = g
    full = op.attrs["full_matrices"]
    adjoint = m > n
    if adjoint:
        m, n, u, v, gu, gv = n, m, v, u, gv, gu
    if full and n - m > 1:
        raise NotImplementedError("the svd gradient is not implemented for |m - n| > 1 with "
                                  "full_matrices=True (as in TF)")
    dt = a.type.dtype
    eye = np.eye(m)
    s_mat = _diag(b, s, m)
    s2 = b.mul(s, s)
    f = b.mul(_safe_reciprocal(b, b.sub(b.expand_dims(s2, axis=-2), b.expand_dims(s2, axis=-1))),
              b.const(1 - eye, dt))
    take = _cmat(b, np.eye(n)[:, :m], v)          # v[..., :, :m] = v @ take
    v1 = b.matmul(v, take) if v.type.shape[-1] != m else v
    gv1 = b.matmul(gv, take) if gv.type.shape[-1] != m else gv
    f_u = b.mul(f, b.matmul(u, gu, transpose_a=True))
    f_v = b.mul(f, b.matmul(v1, gv1, transpose_a=True))
    inner = b.add(b.add(_diag(b, gs, m), b.matmul(b.add(f_u, _mt(b, f_u)), s_mat)),
                  b.matmul(s_mat, b.add(f_v, _mt(b, f_v))))
    ga = b.matmul(u, b.matmul(inner, v1, transpose_b=True))
    if m != n:
        gv1t = _mt(b, gv1)
        term2 = b.sub(gv1t, b.matmul(b.matmul(gv1t, v1), v1, transpose_b=True))
        if full:
            rest = _cmat(b, np.eye(n)[:, m:], v)
            v2, gv2 = b.matmul(v, rest), b.matmul(gv, rest)
            term2 = b.sub(term2, b.matmul(b.matmul(v1, gv2, transpose_a=True), v2,
                                          transpose_b=True))
        s_inv = _diag(b, _safe_reciprocal(b, s), m)
        ga = b.add(ga, b.matmul(b.matmul(u, s_inv), term2))
    return [_mt(b, ga) if adjoint else ga]


# ---- qr -----------------------------------------------------------------------------------

def _qr_infer(types, attrs):
    t = types[0]
    _matrices(t, "qr input")
    if t.shape is None:
        return [t, t]
    m, n = t.shape[-2:]
    k = min(m, n) if isinstance(m, int) and isinstance(n, int) else None
    q_cols, r_rows = (m, m) if attrs["full_matrices"] else (k, k)
    batch = t.shape[:-2]
    return [TensorType(t.dtype, batch + (m, q_cols)), TensorType(t.dtype, batch + (r_rows, n))]


def _qr_ref(x, full_matrices):
    q, r = np.linalg.qr(x, mode="complete" if full_matrices else "reduced")
    return q.astype(x.dtype), r.astype(x.dtype)


def _r_inv_t(b, x, r):
    """x R^-T for an upper-triangular R (TF's _TriangularSolve)."""
    return _mt(b, b.matrix_triangular_solve(r, _mt(b, x), lower=False, adjoint=False))


def _qr_grad_deep(b, q, r, dq, dr, n: int):
    """TF's _QrGradSquareAndDeepMatrices (m >= n, Q [m, n], R [n, n])."""
    dt = q.type.dtype
    qdq = b.matmul(q, dq, transpose_a=True)
    rdr = b.matmul(r, dr, transpose_b=True)
    both = b.add(b.sub(qdq, _mt(b, qdq)), b.sub(rdr, _mt(b, rdr)))
    tril = b.mul(both, b.const(np.tril(np.ones((n, n))), dt))
    ga = b.matmul(q, b.add(dr, _r_inv_t(b, tril, r)))
    return b.add(ga, _r_inv_t(b, b.sub(dq, b.matmul(q, qdq)), r))


def _qr_grad(b, op, g):
    """TF's _QrGrad: for m >= n (reduced Q), and for m < n (A = [X | Y], R = [U | V])."""
    a, = op.operands
    q, r = op.results
    dq, dr = g
    m, n = _static(a, "qr")
    if m > n and op.attrs["full_matrices"]:
        raise NotImplementedError("the qr gradient is not implemented for m > n with "
                                  "full_matrices=True (as in TF)")
    if m >= n:
        return [_qr_grad_deep(b, q, r, dq, dr, n)]
    first, rest = _cmat(b, np.eye(n)[:, :m], a), _cmat(b, np.eye(n)[:, m:], a)
    y, u = b.matmul(a, rest), b.matmul(r, first)
    dv, du = b.matmul(dr, rest), b.matmul(dr, first)
    dx = _qr_grad_deep(b, q, u, b.add(dq, b.matmul(y, dv, transpose_b=True)), du, m)
    dy = b.matmul(q, dv)
    return [b.concat(dx, dy, axis=a.type.rank - 1)]


# ---- log_matrix_determinant ---------------------------------------------------------------

def _slogdet_infer(types, attrs):
    t = types[0]
    _square(t, "log_matrix_determinant input")
    out = TensorType(t.dtype, None if t.shape is None else t.shape[:-2])
    return [out, out]


def _slogdet_ref(x):
    sign, logabs = np.linalg.slogdet(x)
    return sign.astype(x.dtype), logabs.astype(x.dtype)


def _slogdet_grad(b, op, g):
    """d log|det A| = tr(A^-1 dA): gA = g A^-T (the sign is piecewise constant)."""
    a, = op.operands
    return [b.mul(_unsqueeze2(b, g[1]), b.matrix_inverse(a, adjoint=True))]


# ---- matrix_exponential -------------------------------------------------------------------

def _expm_ref(x):
    return scipy.linalg.expm(x.astype(np.float64)).astype(x.dtype) if x.size else x.copy()


def _expm_grad(b, op, g):
    """The adjoint of the Frechet derivative: gA = L(A^T, g), the upper-right block of
    expm([[A^T, g], [0, A^T]]) (Higham's block formula)."""
    a, = op.operands
    n, _ = _static(a, "matrix_exponential")
    r = a.type.rank
    at = _mt(b, a)
    big = b.concat(b.concat(at, g[0], axis=r - 1),
                   b.concat(b.zeros_like(a), at, axis=r - 1), axis=r - 2)
    e = b.matrix_exponential(big)
    rows, cols = _cmat(b, np.eye(2 * n)[:n], a), _cmat(b, np.eye(2 * n)[:, n:], a)
    return [b.matmul(b.matmul(rows, e), cols)]


defop("matrix_triangular_solve", kind="library", cost="expensive", num_inputs=2,
      attrs={"lower": Attr("bool", True), "adjoint": Attr("bool", False)},
      infer=_trisolve_infer, reference=_trisolve_ref, grad=_trisolve_grad,
      unlowered_on=_UNLOWERED,
      doc="tf.linalg.triangular_solve: X with T X = B (T^T X = B with adjoint), T the lower "
          "(or upper, lower=False) triangle of the matrix")
defop("self_adjoint_eig", kind="library", cost="expensive", num_inputs=1, infer=_eig_infer,
      reference=_eig_ref, grad=_eig_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.eigh: (e [..., n] ascending, v [..., n, n] columns eigenvectors) of the "
          "symmetric matrix whose lower triangle is given")
defop("svd", kind="library", cost="expensive", num_inputs=1,
      attrs={"full_matrices": Attr("bool", False), "compute_uv": Attr("bool", True)},
      infer=_svd_infer, reference=_svd_ref, grad=_svd_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.svd: (s, u, v) with A = U diag(s) V^T, s descending (s alone without "
          "compute_uv)")
defop("qr", kind="library", cost="expensive", num_inputs=1,
      attrs={"full_matrices": Attr("bool", False)}, infer=_qr_infer, reference=_qr_ref,
      grad=_qr_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.qr: (q, r) with A = Q R, Q orthonormal columns, R upper triangular")
defop("log_matrix_determinant", kind="library", cost="expensive", num_inputs=1,
      infer=_slogdet_infer, reference=_slogdet_ref, grad=_slogdet_grad,
      unlowered_on=_UNLOWERED,
      doc="tf.linalg.slogdet: (sign, log|det|) of each [n, n] matrix")
defop("matrix_exponential", kind="library", cost="expensive", num_inputs=1,
      infer=lambda t, a: _same_infer(t, a, "matrix_exponential input"), reference=_expm_ref,
      grad=_expm_grad, unlowered_on=_UNLOWERED,
      doc="tf.linalg.expm: the matrix exponential of each [n, n] matrix (Pade, SciPy's "
          "scaling and squaring)")
