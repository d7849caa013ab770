"""``tf.train`` optimizers with TF1's exact update rules and slot names, and global_step."""
from __future__ import annotations

from typing import Any, Optional

from ..ir.dtypes import int64
from .array_ops import zeros
from .graph import GraphKeys, Operation, Tensor, get_default_graph, name_scope
from .gradients import gradients
from .math_ops import cast, multiply, sqrt, square, subtract, add, truediv
from .op_builder import convert_to_tensor
from .variables import Variable, assign, assign_add, group, trainable_variables


class Optimizer:
    """Base class: ``minimize = compute_gradients + apply_gradients``."""

    GATE_NONE, GATE_OP, GATE_GRAPH = 0, 1, 2

    def __init__(self, use_locking: bool, name: str) -> None:
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._name = name
        self._slots: dict[str, dict[Variable, Variable]] = {}
        self._non_slots: dict[str, Variable] = {}

    def get_name(self) -> str:
        return self._name

    # ------------------------------------------------------------------ public API -------
    def minimize(self, loss: Any, global_step: Optional[Variable] = None, var_list=None,
                 gate_gradients: int = 1, aggregation_method=None,
                 colocate_gradients_with_ops: bool = False, name: Optional[str] = None,
                 grad_loss: Any = None) -> Operation:
        gvs = self.compute_gradients(loss, var_list=var_list, grad_loss=grad_loss)
        vars_with_grad = [v for g, v in gvs if g is not None]
        if not vars_with_grad:
            raise ValueError("No gradients provided for any variable, check your graph for ops "
                             "that do not support gradients, between variables "
                             f"{[str(v) for _, v in gvs]} and loss {loss}.")
        return self.apply_gradients(gvs, global_step=global_step, name=name)

    def compute_gradients(self, loss: Any, var_list=None, gate_gradients: int = 1,
                          aggregation_method=None, colocate_gradients_with_ops: bool = False,
                          grad_loss: Any = None) -> list[tuple[Optional[Tensor], Variable]]:
        loss = convert_to_tensor(loss)
        if var_list is None:
            var_list = trainable_variables()
        var_list = list(var_list.values()) if isinstance(var_list, dict) else list(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        grads = gradients(loss, var_list, grad_ys=None if grad_loss is None else [grad_loss])
        return list(zip(grads, var_list))

    def apply_gradients(self, grads_and_vars, global_step: Optional[Variable] = None,
                        name: Optional[str] = None) -> Operation:
        gvs = [(g, v) for g, v in grads_and_vars]
        if not gvs:
            raise ValueError("No variables provided.")
        live = [(convert_to_tensor(g), v) for g, v in gvs if g is not None]
        if not live:
            raise ValueError(f"No gradients provided for any variable: {[str(v) for _, v in gvs]}.")
        g = get_default_graph()
        with g.name_scope(None):
            self._create_slots([v for _, v in live])
        with name_scope(name or self._name) as scope:
            self._prepare()
            updates = []
            for grad, var in live:
                with name_scope("update_" + var.op.name):
                    updates.append(self._apply_dense(grad, var))
            if global_step is None:
                train_op = self._finish(updates, scope)
            else:
                with g.control_dependencies([self._finish(updates, "update")]):
                    step = assign_add(global_step, 1, name=scope)
                    train_op = step.op
        train_ops = g.get_collection_ref(GraphKeys.TRAIN_OP)
        if train_op not in train_ops:
            train_ops.append(train_op)
        return train_op

    def get_slot(self, var: Variable, name: str) -> Optional[Variable]:
        return self._slots.get(name, {}).get(var)

    def get_slot_names(self) -> list[str]:
        return sorted(self._slots)

    def variables(self) -> list[Variable]:
        out = list(self._non_slots.values())
        for slot in self._slots.values():
            out.extend(slot.values())
        return out

    # ------------------------------------------------------------------ helpers ----------
    def _lr(self, var: Variable, value: Any, name: str = "learning_rate") -> Tensor:
        t = convert_to_tensor(value, dtype=None if isinstance(value, Tensor) else var.dtype)
        return cast(t, var.dtype) if t.dtype is not var.dtype else t

    def _zeros_slot(self, var: Variable, slot: str, op_name: str, value: float = 0.0) -> Variable:
        store = self._slots.setdefault(slot, {})
        if var not in store:
            dims = var.shape.as_list()
            dt = var.dtype
            if value == 0.0:
                init = lambda: zeros(dims, dt)  # noqa: E731
            else:
                from .initializers import Constant
                init = lambda: Constant(value)(dims, dt)  # noqa: E731
            store[var] = Variable(init, trainable=False, name=f"{var.op.name}/{op_name}", dtype=dt)
        return store[var]

    def _non_slot(self, name: str, value: float, like: Variable) -> Variable:
        if name not in self._non_slots:
            self._non_slots[name] = Variable(value, trainable=False, name=name, dtype=like.dtype)
        return self._non_slots[name]

    def _create_slots(self, var_list: list[Variable]) -> None:
        pass

    def _prepare(self) -> None:
        pass

    def _apply_dense(self, grad: Tensor, var: Variable) -> Any:
        raise NotImplementedError

    def _finish(self, update_ops: list, name_scope_: str) -> Operation:
        return group(*update_ops, name=name_scope_)


class GradientDescentOptimizer(Optimizer):
    """``var -= lr * grad``."""

    def __init__(self, learning_rate: Any, use_locking: bool = False,
                 name: str = "GradientDescent") -> None:
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate

    def _apply_dense(self, grad, var):
        lr = self._lr(var, self._learning_rate)
        return assign(var, subtract(var, multiply(lr, grad)), name="ApplyGradientDescent")


class MomentumOptimizer(Optimizer):
    """``accum = accum * momentum + grad; var -= lr * accum`` (Nesterov:
    ``var -= lr * grad + lr * momentum * accum``); slot ``<var>/Momentum``."""

    def __init__(self, learning_rate: Any, momentum: Any, use_locking: bool = False,
                 name: str = "Momentum", use_nesterov: bool = False) -> None:
        super().__init__(use_locking, name)
        self._learning_rate, self._momentum, self._nesterov = learning_rate, momentum, use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        lr = self._lr(var, self._learning_rate)
        mom = self._lr(var, self._momentum, "momentum")
        acc = self.get_slot(var, "momentum")
        new_acc = add(multiply(acc, mom), grad)
        acc_up = assign(acc, new_acc)
        if self._nesterov:
            step = add(multiply(grad, lr), multiply(multiply(new_acc, mom), lr))
        else:
            step = multiply(new_acc, lr)
        return group(acc_up, assign(var, subtract(var, step), name="ApplyMomentum"))


class AdamOptimizer(Optimizer):
    """TF1's Adam: ``lr_t = lr*sqrt(1-b2^t)/(1-b1^t); m += (g-m)(1-b1); v += (g*g-v)(1-b2);
    var -= lr_t*m/(sqrt(v)+eps)``; ``beta1_power``/``beta2_power`` advance after the updates."""

    def __init__(self, learning_rate: Any = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, use_locking: bool = False, name: str = "Adam") -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._beta1, self._beta2, self._eps = learning_rate, beta1, beta2, epsilon

    def _create_slots(self, var_list):
        first = min(var_list, key=lambda v: v.op.name)
        self._non_slot("beta1_power", self._beta1, first)
        self._non_slot("beta2_power", self._beta2, first)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _apply_dense(self, grad, var):
        b1p, b2p = self._non_slots["beta1_power"], self._non_slots["beta2_power"]
        lr = self._lr(var, self._lr_value)
        b1, b2, eps = (self._lr(var, x) for x in (self._beta1, self._beta2, self._eps))
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        lr_t = truediv(multiply(lr, sqrt(subtract(1.0, cast(b2p, var.dtype)))),
                       subtract(1.0, cast(b1p, var.dtype)))
        m_t = add(m, multiply(subtract(grad, m), subtract(1.0, b1)))
        v_t = add(v, multiply(subtract(square(grad), v), subtract(1.0, b2)))
        upd = subtract(var, truediv(multiply(lr_t, m_t), add(sqrt(v_t), eps)))
        return group(assign(m, m_t), assign(v, v_t), assign(var, upd, name="ApplyAdam"))

    def _finish(self, update_ops, name_scope_):
        b1p, b2p = self._non_slots["beta1_power"], self._non_slots["beta2_power"]
        g = get_default_graph()
        with g.control_dependencies(update_ops):
            u1 = assign(b1p, multiply(b1p, self._beta1))
            u2 = assign(b2p, multiply(b2p, self._beta2))
        return group(*update_ops, u1, u2, name=name_scope_)


class RMSPropOptimizer(Optimizer):
    """TF1's RMSProp: ``ms`` starts at ones; ``ms += (g*g-ms)(1-decay)``;
    ``mom = mom*momentum + lr*g/sqrt(ms+eps)``; ``var -= mom`` (centered: ``ms - mg^2``)."""

    def __init__(self, learning_rate: Any, decay: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-10, use_locking: bool = False, centered: bool = False,
                 name: str = "RMSProp") -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._decay, self._momentum, self._eps = learning_rate, decay, momentum, epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "rms", self._name, value=1.0)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _apply_dense(self, grad, var):
        lr = self._lr(var, self._lr_value)
        decay, mom_c, eps = (self._lr(var, x) for x in (self._decay, self._momentum, self._eps))
        ms, mom = self.get_slot(var, "rms"), self.get_slot(var, "momentum")
        ms_t = add(ms, multiply(subtract(square(grad), ms), subtract(1.0, decay)))
        ups = [assign(ms, ms_t)]
        denom = ms_t
        if self._centered:
            mg = self.get_slot(var, "mg")
            mg_t = add(mg, multiply(subtract(grad, mg), subtract(1.0, decay)))
            ups.append(assign(mg, mg_t))
            denom = subtract(ms_t, square(mg_t))
        mom_t = add(multiply(mom, mom_c), truediv(multiply(lr, grad), sqrt(add(denom, eps))))
        ups.append(assign(mom, mom_t))
        ups.append(assign(var, subtract(var, mom_t), name="ApplyRMSProp"))
        return group(*ups)


class AdagradOptimizer(Optimizer):
    """``accum += g*g; var -= lr * g / sqrt(accum)``; slot ``<var>/Adagrad`` starts at 0.1."""

    def __init__(self, learning_rate: Any, initial_accumulator_value: float = 0.1,
                 use_locking: bool = False, name: str = "Adagrad") -> None:
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: {initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._lr_value, self._init_acc = learning_rate, initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accumulator", self._name, value=self._init_acc)

    def _apply_dense(self, grad, var):
        lr = self._lr(var, self._lr_value)
        acc = self.get_slot(var, "accumulator")
        acc_t = add(acc, square(grad))
        upd = subtract(var, truediv(multiply(lr, grad), sqrt(acc_t)))
        return group(assign(acc, acc_t), assign(var, upd, name="ApplyAdagrad"))


# ---------------------------------------------------------------------- global step ---------

def get_global_step(graph=None) -> Optional[Variable]:
    g = graph or get_default_graph()
    found = g.get_collection(GraphKeys.GLOBAL_STEP)
    return found[0] if found else None


def create_global_step(graph=None) -> Variable:
    g = graph or get_default_graph()
    if get_global_step(g) is not None:
        raise ValueError("\"global_step\" already exists.")
    with g.as_default(), g.name_scope(None):
        from .op_builder import constant
        v = Variable(constant(0, dtype=int64), trainable=False, name="global_step",
                     collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP])
    return v


def get_or_create_global_step(graph=None) -> Variable:
    return get_global_step(graph) or create_global_step(graph)


def global_step(sess, global_step_tensor) -> int:
    """``tf.train.global_step``: the current value of a global step, as a Python int."""
    return int(sess.run(global_step_tensor))


def exponential_decay(learning_rate: Any, global_step: Any, decay_steps: Any, decay_rate: Any,
                      staircase: bool = False, name: Optional[str] = None) -> Tensor:
    """``lr * decay_rate ** (global_step / decay_steps)`` (floored when staircase)."""
    from .math_ops import floordiv, pow as tf_pow
    with name_scope(name, "ExponentialDecay") as scope:
        lr = convert_to_tensor(learning_rate, dtype="float32")
        step = cast(global_step, lr.dtype)
        p = truediv(step, cast(convert_to_tensor(decay_steps), lr.dtype))
        if staircase:
            p = floordiv(p, 1.0)
        return multiply(lr, tf_pow(cast(convert_to_tensor(decay_rate), lr.dtype), p), name=scope)
