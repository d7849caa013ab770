"""Data-parallel training, synchronous and asynchronous, on threads of this process
(``engine="local"``) or on a Ray cluster (``engine="ray"``)::

    from jitflow.distributed import DataParallel
    dp = DataParallel(loss, tf.train.AdamOptimizer(), inputs=(X, y), mode="async",
                      replicas=2, engine="ray")
    dp.fit(X_train, y_train, batch_size=50, epochs=2)

See docs/distributed.md.
"""
from .data_parallel import DataParallel, parse_device
from .errors import ParameterServerError, WorkerFailedError, WorkerTimeoutError
from .plan import TrainingPlan, average_gradients, shard_by_size

__all__ = ["DataParallel", "ParameterServerError", "TrainingPlan", "WorkerFailedError",
           "WorkerTimeoutError", "average_gradients", "parse_device", "shard_by_size"]
