"""``tf.linalg.inv/det/cholesky/solve`` and their TF1 names ``tf.matrix_inverse``,
``tf.matrix_determinant``, ``tf.cholesky``, ``tf.matrix_solve``: one IR op each
(``ops/linalg_solve.py``)."""
from __future__ import annotations

from typing import Any, Optional

from .graph import Tensor
from .op_builder import convert_to_tensor, make_op

__all__ = ["matrix_inverse", "matrix_determinant", "cholesky", "matrix_solve"]


def matrix_inverse(input: Any, adjoint: bool = False, name: Optional[str] = None) -> Tensor:
    """The inverse of each matrix of ``input`` [..., n, n] (of its transpose with
    ``adjoint``); a singular matrix is an InvalidArgumentError at run time."""
    x = convert_to_tensor(input)
    return make_op("MatrixInverse", "matrix_inverse", [x], {"adjoint": bool(adjoint)},
                   name).outputs[0]


def matrix_determinant(input: Any, name: Optional[str] = None) -> Tensor:
    """The determinant of each matrix: [..., n, n] -> [...]."""
    x = convert_to_tensor(input)
    return make_op("MatrixDeterminant", "matrix_determinant", [x], {}, name).outputs[0]


def cholesky(input: Any, name: Optional[str] = None) -> Tensor:
    """The lower-triangular Cholesky factor of each symmetric positive definite matrix (only
    the lower triangle is read)."""
    x = convert_to_tensor(input)
    return make_op("Cholesky", "cholesky", [x], {}, name).outputs[0]


def matrix_solve(matrix: Any, rhs: Any, adjoint: bool = False,
                 name: Optional[str] = None) -> Tensor:
    """X with ``matrix @ X = rhs`` (``matrix^T @ X = rhs`` with ``adjoint``); ``rhs`` is
    [..., n, k] with the matrix's batch dims."""
    a = convert_to_tensor(matrix)
    b = convert_to_tensor(rhs, a.dtype)
    return make_op("MatrixSolve", "matrix_solve", [a, b], {"adjoint": bool(adjoint)},
                   name).outputs[0]
