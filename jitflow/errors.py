"""Errors with TensorFlow 1.x's names, so code that catches them keeps working."""
from __future__ import annotations


class OpError(Exception):
    """Base of run-time errors (tf.errors.OpError)."""

    def __init__(self, message: str, node_def=None, op=None, error_code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.op = op
        self.node_def = node_def
        self.error_code = error_code


class CancelledError(OpError): pass
class UnknownError(OpError): pass
class InvalidArgumentError(OpError): pass
class DeadlineExceededError(OpError): pass
class NotFoundError(OpError): pass
class AlreadyExistsError(OpError): pass
class PermissionDeniedError(OpError): pass
class ResourceExhaustedError(OpError): pass
class FailedPreconditionError(OpError): pass
class AbortedError(OpError): pass
class OutOfRangeError(OpError): pass
class UnimplementedError(OpError): pass
class InternalError(OpError): pass
class UnavailableError(OpError): pass
class DataLossError(OpError): pass


class GraphShapeError(ValueError):
    """A shape mismatch found while building the graph (TF raises ValueError)."""


class GraphTypeError(TypeError):
    """A dtype mismatch found while building the graph (TF raises TypeError)."""
