"""``tf.linalg.triangular_solve/eigh/eigvalsh/svd/qr/slogdet/expm`` (one IR op each,
``ops/linalg_decomp.py``) and the compositions TF builds from them: ``logdet`` (Cholesky),
``lstsq`` (regularized normal equations; QR for ``fast=False``), ``cholesky_solve``,
``trace``, ``set_diag``, ``diag_part`` (rectangular too), ``adjoint``; with their TF1 names (``tf.matrix_triangular_solve``,
``tf.self_adjoint_eig``, ``tf.svd``, ``tf.qr``, ``tf.matrix_solve_ls``, ``tf.trace``, ...)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from . import math_ops as M
from .array_ops import expand_dims, transpose
from .array_extra import diag_part
from .graph import Tensor, name_scope
from .linalg_ops import cholesky
from .op_builder import constant, convert_to_tensor, make_op

__all__ = ["matrix_triangular_solve", "self_adjoint_eig", "self_adjoint_eigvals", "svd", "qr",
           "slogdet", "logdet", "cholesky_solve", "matrix_solve_ls", "trace", "matrix_set_diag",
           "adjoint", "expm", "matrix_diag_part"]


def _matrix_dims(x: Tensor, what: str) -> tuple:
    """The static (m, n) of x [..., m, n] (the compositions' masks need them)."""
    shape = x.shape.as_list() if x.shape.ndims is not None else None
    if shape is None or len(shape) < 2 or shape[-1] is None or shape[-2] is None:
        raise ValueError(f"{what} needs [..., m, n] with m and n known when the graph is "
                         f"built, got shape {x.shape}")
    return shape[-2], shape[-1]


def adjoint(matrix: Any, name: Optional[str] = None) -> Tensor:
    """The transpose of the last two dims (real dtypes: TF's adjoint)."""
    x = convert_to_tensor(matrix)
    r = x.shape.ndims
    if r is None or r < 2:
        raise ValueError(f"adjoint needs a tensor of known rank >= 2, got shape {x.shape}")
    return transpose(x, list(range(r - 2)) + [r - 1, r - 2], name=name or "adjoint")


def matrix_triangular_solve(matrix: Any, rhs: Any, lower: bool = True, adjoint: bool = False,
                            name: Optional[str] = None) -> Tensor:
    """X with ``T @ X = rhs`` (``T^T @ X = rhs`` with ``adjoint``), T the lower (upper with
    ``lower=False``) triangle of ``matrix`` [..., n, n]; ``rhs`` [..., n, k]."""
    a = convert_to_tensor(matrix)
    b = convert_to_tensor(rhs, a.dtype)
    return make_op("MatrixTriangularSolve", "matrix_triangular_solve", [a, b],
                   {"lower": bool(lower), "adjoint": bool(adjoint)}, name).outputs[0]


def self_adjoint_eig(tensor: Any, name: Optional[str] = None) -> tuple:
    """(e, v): ascending eigenvalues [..., n] and eigenvectors (columns of v [..., n, n]) of
    the symmetric matrices whose lower triangles are given."""
    x = convert_to_tensor(tensor)
    e, v = make_op("SelfAdjointEigV2", "self_adjoint_eig", [x], {}, name).outputs
    return e, v


def self_adjoint_eigvals(tensor: Any, name: Optional[str] = None) -> Tensor:
    """The ascending eigenvalues [..., n] of symmetric matrices (lower triangles read)."""
    return self_adjoint_eig(tensor, name)[0]


def svd(tensor: Any, full_matrices: bool = False, compute_uv: bool = True,
        name: Optional[str] = None):
    """(s, u, v) with ``tensor = u @ diag(s) @ v^T`` (TF's order, v not v^T), s descending;
    s alone when ``compute_uv`` is False."""
    x = convert_to_tensor(tensor)
    outs = make_op("Svd", "svd", [x], {"full_matrices": bool(full_matrices),
                                       "compute_uv": bool(compute_uv)}, name).outputs
    return tuple(outs) if compute_uv else outs[0]


def qr(input: Any, full_matrices: bool = False, name: Optional[str] = None) -> tuple:
    """(q, r) with ``input = q @ r``, q orthonormal columns, r upper triangular."""
    x = convert_to_tensor(input)
    q, r = make_op("Qr", "qr", [x], {"full_matrices": bool(full_matrices)}, name).outputs
    return q, r


def expm(input: Any, name: Optional[str] = None) -> Tensor:
    """The matrix exponential of each matrix [..., n, n]."""
    x = convert_to_tensor(input)
    return make_op("MatrixExponential", "matrix_exponential", [x], {}, name).outputs[0]


def slogdet(input: Any, name: Optional[str] = None) -> tuple:
    """(sign, log|det|) of each matrix [..., n, n] -> [...] each."""
    x = convert_to_tensor(input)
    sign, logabs = make_op("LogMatrixDeterminant", "log_matrix_determinant", [x], {},
                           name).outputs
    return sign, logabs


def logdet(matrix: Any, name: Optional[str] = None) -> Tensor:
    """log det of symmetric positive definite matrices: 2 sum(log(diag(cholesky)))."""
    with name_scope(name, "logdet") as scope:
        chol = cholesky(matrix)
        return M.multiply(M.reduce_sum(M.log(diag_part(chol)), [-1]),
                          constant(np.asarray(2.0, chol.dtype.np)), name=scope)


def cholesky_solve(chol: Any, rhs: Any, name: Optional[str] = None) -> Tensor:
    """X with ``A @ X = rhs`` given ``chol`` = cholesky(A) (two triangular solves)."""
    with name_scope(name, "cholesky_solve") as scope:
        y = matrix_triangular_solve(chol, rhs, lower=True, adjoint=False)
        return matrix_triangular_solve(chol, y, lower=True, adjoint=True, name=scope)


def matrix_solve_ls(matrix: Any, rhs: Any, l2_regularizer: Any = 0.0, fast: bool = True,
                    name: Optional[str] = None) -> Tensor:
    """Least squares X minimizing ||A X - B||^2 + l2 ||X||^2, as TF: ``fast`` solves the
    regularized normal equations by Cholesky (m >= n: (A^T A + l2 I) X = A^T B; m < n:
    X = A^T (A A^T + l2 I)^-1 B). ``fast=False`` ignores ``l2_regularizer`` as TF does and
    uses QR (of A, or of A^T for the minimum-norm solution when m < n): A must have full
    rank here, where TF's complete orthogonal decomposition also takes rank-deficient A."""
    with name_scope(name, "matrix_solve_ls") as scope:
        a = convert_to_tensor(matrix)
        b = convert_to_tensor(rhs, a.dtype)
        m, n = _matrix_dims(a, "matrix_solve_ls")
        if not fast:
            if m >= n:
                q, r = qr(a)
                return matrix_triangular_solve(r, M.matmul(q, b, transpose_a=True),
                                               lower=False, name=scope)
            q, r = qr(adjoint(a))
            return M.matmul(q, matrix_triangular_solve(r, b, lower=False, adjoint=True),
                            name=scope)
        l2 = (M.cast(l2_regularizer, a.dtype) if isinstance(l2_regularizer, Tensor)
              else convert_to_tensor(l2_regularizer, a.dtype))
        reg = M.multiply(l2, constant(np.eye(min(m, n), dtype=a.dtype.np)))
        if m >= n:
            gram = M.add(M.matmul(a, a, transpose_a=True), reg)
            return cholesky_solve(cholesky(gram), M.matmul(a, b, transpose_a=True), name=scope)
        gram = M.add(M.matmul(a, a, transpose_b=True), reg)
        return M.matmul(a, cholesky_solve(cholesky(gram), b), transpose_a=True, name=scope)


def trace(x: Any, name: Optional[str] = None) -> Tensor:
    """The sum of each matrix's main diagonal: [..., m, n] -> [...]."""
    t = convert_to_tensor(x)
    m, n = _matrix_dims(t, "trace")
    with name_scope(name, "Trace") as scope:
        return M.reduce_sum(M.multiply(t, constant(np.eye(m, n, dtype=t.dtype.np))), [-2, -1],
                            name=scope)


def matrix_diag_part(input: Any, name: Optional[str] = None) -> Tensor:
    """The main diagonal of each matrix: [..., m, n] -> [..., min(m, n)]."""
    x = convert_to_tensor(input)
    m, n = _matrix_dims(x, "matrix_diag_part")
    with name_scope(name, "MatrixDiagPart") as scope:
        masked = M.multiply(x, constant(np.eye(m, n, dtype=x.dtype.np)))
        return M.reduce_sum(masked, [-1 if m <= n else -2], name=scope)


def matrix_set_diag(input: Any, diagonal: Any, name: Optional[str] = None) -> Tensor:
    """``input`` [..., m, n] with its main diagonal replaced by ``diagonal``
    [..., min(m, n)]."""
    x = convert_to_tensor(input)
    d = convert_to_tensor(diagonal, x.dtype)
    m, n = _matrix_dims(x, "matrix_set_diag")
    k = d.shape.as_list()[-1] if d.shape.ndims else None
    if k is not None and k != min(m, n):
        raise ValueError(f"matrix_set_diag: the diagonal must have {min(m, n)} entries (the "
                         f"min of the matrix dims of {x.shape}), got shape {d.shape}")
    eye = np.eye(m, n, dtype=x.dtype.np)
    with name_scope(name, "MatrixSetDiag") as scope:
        spread = M.multiply(expand_dims(d, -1 if m <= n else -2), constant(eye))
        return M.add(M.multiply(x, constant(1 - eye)), spread, name=scope)
