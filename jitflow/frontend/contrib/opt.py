"""``tf.contrib.opt``: decoupled weight decay (AdamW, MomentumW, the extension factory),
LazyAdam, Nadam, AdaMax and MovingAverageOptimizer, built on jitflow's ``tf.train``
optimizers (``frontend/train.py``) with TF1's update rules, slot names and defaults.

jitflow has no ``IndexedSlices``: every gradient is dense (``tf.gather``'s gradient is a dense
scatter), so the optimizers here have only the dense path. ``LazyAdamOptimizer``, whose whole
point in TF is the sparse path (moments updated only on the gathered rows), is therefore
exactly ``AdamOptimizer`` here.
"""
from __future__ import annotations

from typing import Any, Optional

from ..graph import get_default_graph
from ..math_ops import abs as tf_abs, add, cast, maximum, multiply, sqrt, subtract, \
    truediv
from ..op_builder import convert_to_tensor
from ..train import AdamOptimizer, ExponentialMovingAverage, MomentumOptimizer, Optimizer
from ..variables import Variable, assign, assign_sub, global_variables, group

__all__ = ["AdaMaxOptimizer", "AdamWOptimizer", "DecoupledWeightDecayExtension",
           "LazyAdamOptimizer", "MomentumWOptimizer", "MovingAverageOptimizer",
           "NadamOptimizer", "extend_with_decoupled_weight_decay"]


class DecoupledWeightDecayExtension:
    """Mixin adding decoupled weight decay (Loshchilov & Hutter) to an optimizer: each
    updated variable is first decayed, ``var -= weight_decay * var`` (from its value before
    this step's update), then the base optimizer's update runs on the decayed variable.
    It must come first among the bases: ``class AdamW(DecoupledWeightDecayExtension,
    AdamOptimizer)``. As in TF, the decay is not multiplied by the learning rate, and it
    only means decoupled decay for base updates that do not read ``var`` itself.

    ``minimize`` and ``apply_gradients`` take ``decay_var_list``: the variables to decay
    (None or empty: every variable updated). One difference from TF 1.15: there
    ``minimize(decay_var_list=...)`` is lost (its inner ``apply_gradients`` call resets the
    list); here it is honoured, as TF's documentation says it is.
    """

    def __init__(self, weight_decay: Any, *args: Any, **kwargs: Any) -> None:
        self._decay_var_list: Any = None
        self._weight_decay = weight_decay
        self._weight_decay_tensor = None
        super().__init__(*args, **kwargs)

    def minimize(self, loss: Any, global_step: Optional[Variable] = None, var_list=None,
                 gate_gradients: int = Optimizer.GATE_OP, aggregation_method=None,
                 colocate_gradients_with_ops: bool = False, name: Optional[str] = None,
                 grad_loss: Any = None, decay_var_list=None):
        gvs = self.compute_gradients(loss, var_list=var_list, gate_gradients=gate_gradients,
                                     aggregation_method=aggregation_method,
                                     colocate_gradients_with_ops=colocate_gradients_with_ops,
                                     grad_loss=grad_loss)
        if not [v for g, v in gvs if g is not None]:
            raise ValueError("No gradients provided for any variable, check your graph for ops "
                             "that do not support gradients, between variables "
                             f"{[str(v) for _, v in gvs]} and loss {loss}.")
        return self.apply_gradients(gvs, global_step=global_step, name=name,
                                    decay_var_list=decay_var_list)

    def apply_gradients(self, grads_and_vars, global_step: Optional[Variable] = None,
                        name: Optional[str] = None, decay_var_list=None):
        self._decay_var_list = set(decay_var_list) if decay_var_list else False
        return super().apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def _prepare(self) -> None:
        wd = self._weight_decay
        if callable(wd):
            wd = wd()
        self._weight_decay_tensor = convert_to_tensor(wd, name="weight_decay")
        super()._prepare()

    def _decay_weights_op(self, var: Variable) -> Any:
        if self._decay_var_list and var not in self._decay_var_list:
            return None
        wd = self._weight_decay_tensor
        wd = cast(wd, var.dtype) if wd.dtype is not var.dtype else wd
        return assign_sub(var, multiply(wd, var))

    def _apply_dense(self, grad: Any, var: Variable) -> Any:
        decay = self._decay_weights_op(var)
        if decay is None:
            return super()._apply_dense(grad, var)
        with get_default_graph().control_dependencies([decay]):
            return super()._apply_dense(grad, var)


def extend_with_decoupled_weight_decay(base_optimizer: type) -> type:
    """A subclass of ``base_optimizer`` (a ``tf.train.Optimizer`` class) whose constructor
    takes ``weight_decay`` first and whose ``minimize``/``apply_gradients`` take
    ``decay_var_list``: ``extend_with_decoupled_weight_decay(tf.train.AdamOptimizer)`` is
    ``AdamWOptimizer`` (but for the default name)."""
    if not (isinstance(base_optimizer, type) and issubclass(base_optimizer, Optimizer)):
        raise TypeError(f"extend_with_decoupled_weight_decay expects an optimizer class (a "
                        f"subclass of tf.train.Optimizer), got {base_optimizer!r}")

    class OptimizerWithDecoupledWeightDecay(DecoupledWeightDecayExtension, base_optimizer):
        """``base_optimizer`` with decoupled weight decay (see DecoupledWeightDecayExtension)."""

        def __init__(self, weight_decay: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(weight_decay, *args, **kwargs)

    OptimizerWithDecoupledWeightDecay.__name__ = f"{base_optimizer.__name__}WithDecoupledWeightDecay"
    return OptimizerWithDecoupledWeightDecay


class AdamWOptimizer(DecoupledWeightDecayExtension, AdamOptimizer):
    """Adam with decoupled weight decay: ``var -= weight_decay * var``, then Adam's update."""

    def __init__(self, weight_decay: Any, learning_rate: Any = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, epsilon: float = 1e-8, use_locking: bool = False,
                 name: str = "AdamW") -> None:
        super().__init__(weight_decay, learning_rate=learning_rate, beta1=beta1, beta2=beta2,
                         epsilon=epsilon, use_locking=use_locking, name=name)


class MomentumWOptimizer(DecoupledWeightDecayExtension, MomentumOptimizer):
    """Momentum (SGDW) with decoupled weight decay: ``var -= weight_decay * var``, then the
    momentum update."""

    def __init__(self, weight_decay: Any, learning_rate: Any, momentum: Any,
                 use_locking: bool = False, name: str = "MomentumW",
                 use_nesterov: bool = False) -> None:
        super().__init__(weight_decay, learning_rate=learning_rate, momentum=momentum,
                         use_locking=use_locking, name=name, use_nesterov=use_nesterov)


class LazyAdamOptimizer(AdamOptimizer):
    """TF's LazyAdam updates the moments only on the rows a sparse gradient touches; jitflow's
    gradients are always dense (no ``IndexedSlices``), so this is ``AdamOptimizer`` exactly
    (TF's dense path is Adam's too)."""

    def __init__(self, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, use_locking: bool = False, name: str = "Adam") -> None:
        super().__init__(learning_rate, beta1, beta2, epsilon, use_locking, name)


class NadamOptimizer(AdamOptimizer):
    """Adam with Nesterov momentum (TF's ApplyAdam with ``use_nesterov``): the moments as
    Adam's, then ``var -= lr_t * (beta1 * m_t + (1 - beta1) * g) / (sqrt(v_t) + eps)``."""

    def _apply_dense(self, grad, var):
        m, v, m_t, v_t, lr_t, b1, eps = self._moments(grad, var)
        m_bar = add(multiply(m_t, b1), multiply(grad, subtract(1.0, b1)))
        upd = subtract(var, truediv(multiply(lr_t, m_bar), add(sqrt(v_t), eps)))
        return group(assign(m, m_t), assign(v, v_t), assign(var, upd, name="ApplyAdam"))


class AdaMaxOptimizer(AdamOptimizer):
    """AdaMax (Kingma & Ba, section 7.1; TF's ApplyAdaMax): ``m += (g - m)(1 - beta1);
    v = max(beta2 * v, |g|); var -= lr / (1 - beta1^t) * m / (v + eps)``; only
    ``beta1_power`` is kept (and advanced after the updates)."""

    def __init__(self, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, use_locking: bool = False, name: str = "AdaMax") -> None:
        super().__init__(learning_rate, beta1, beta2, epsilon, use_locking, name)

    def _create_slots(self, var_list):
        first = min(var_list, key=lambda v: v.op.name)
        self._non_slot("beta1_power", self._beta1, first)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _apply_dense(self, grad, var):
        b1p = self._non_slots["beta1_power"]
        lr = self._lr(var, self._lr_value)
        b1, b2, eps = (self._lr(var, x) for x in (self._beta1, self._beta2, self._eps))
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        m_t = add(m, multiply(subtract(grad, m), subtract(1.0, b1)))
        v_t = maximum(multiply(v, b2), tf_abs(grad))
        step = multiply(truediv(lr, subtract(1.0, cast(b1p, var.dtype))),
                        truediv(m_t, add(v_t, eps)))
        return group(assign(m, m_t), assign(v, v_t),
                     assign(var, subtract(var, step), name="ApplyAdaMax"))

    def _finish(self, update_ops, name_scope_):
        b1p = self._non_slots["beta1_power"]
        with get_default_graph().control_dependencies(update_ops):
            u1 = assign(b1p, multiply(b1p, self._beta1))
        return group(*update_ops, u1, name=name_scope_)


class MovingAverageOptimizer(Optimizer):
    """Wraps ``opt``: each ``apply_gradients`` also moves an ExponentialMovingAverage of the
    updated variables (after the update when ``sequential_update``); ``swapping_saver()``
    saves each average under its variable's name (and the variable under the average's), so
    a plain Saver restoring that checkpoint gets the averaged weights."""

    def __init__(self, opt: Optimizer, average_decay: float = 0.9999, num_updates: Any = None,
                 sequential_update: bool = True) -> None:
        self._optimizer = opt
        self._ema = ExponentialMovingAverage(average_decay, num_updates=num_updates)
        self._variable_map: Optional[dict] = None
        self._sequential_update = sequential_update

    def get_name(self) -> str:
        return self._optimizer.get_name()

    def compute_gradients(self, *args: Any, **kwargs: Any):
        return self._optimizer.compute_gradients(*args, **kwargs)

    def apply_gradients(self, grads_and_vars, global_step: Optional[Variable] = None,
                        name: Optional[str] = None):
        gvs = list(grads_and_vars)
        train_op = self._optimizer.apply_gradients(gvs, global_step=global_step, name=name)
        var_list = [v for g, v in gvs if g is not None]
        self._variable_map = {}
        if self._sequential_update:
            with get_default_graph().control_dependencies([train_op]):
                ma_op = self._ema.apply(var_list)
        else:
            ma_op = self._ema.apply(var_list)
        for v in var_list:
            avg = self._ema.average(v)
            self._variable_map[v.op.name] = avg
            self._variable_map[avg.op.name] = v
        return group(train_op, ma_op, name="train_with_avg")

    def get_slot(self, var: Variable, name: str):
        return self._optimizer.get_slot(var, name)

    def get_slot_names(self) -> list[str]:
        return self._optimizer.get_slot_names()

    def variables(self) -> list[Variable]:
        return self._optimizer.variables()

    def swapping_saver(self, var_list: Any = None, name: str = "swapping_saver",
                       **kwargs: Any) -> Any:
        """A ``tf.train.Saver`` of ``var_list`` (default: the global variables) with each
        averaged variable and its average swapped."""
        from ..saver import Saver
        if self._variable_map is None:
            raise RuntimeError("Must call apply_gradients or minimize before creating the "
                               "swapping_saver")
        if var_list is None:
            var_list = global_variables()
        if not isinstance(var_list, dict):
            var_list = {v.op.name: v for v in var_list}
        swapped = {k: self._variable_map.get(v.op.name, v) for k, v in var_list.items()}
        return Saver(swapped, name=name, **kwargs)

