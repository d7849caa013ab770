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

    def _moments(self, grad, var) -> tuple:
        """(m, v, m_t, v_t, lr_t, beta1, eps): the slots, their new values and the
        bias-corrected step size of TF's ApplyAdam."""
        b1p, b2p = self._non_slots["beta1_power"], self._non_slots["beta2_power"]
        lr = self._lr(var, self._lr_value)
        b1, b2, eps = (self._lr(var, x) for x in (self._beta1, self._beta2, self._eps))
        m, v = self.get_slot(var, "m"), self.get_slot(var, "v")
        lr_t = truediv(multiply(lr, sqrt(subtract(1.0, cast(b2p, var.dtype)))),
                       subtract(1.0, cast(b1p, var.dtype)))
        m_t = add(m, multiply(subtract(grad, m), subtract(1.0, b1)))
        v_t = add(v, multiply(subtract(square(grad), v), subtract(1.0, b2)))
        return m, v, m_t, v_t, lr_t, b1, eps

    def _apply_dense(self, grad, var):
        m, v, m_t, v_t, lr_t, _, eps = self._moments(grad, var)
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


def _proximal(prox_v: Tensor, lr: Tensor, l1: Any, l2: Any) -> Tensor:
    """TF's proximal step: ``sign(p) * max(|p| - lr*l1, 0) / (1 + lr*l2)`` (l1 = 0: ``p / (1 +
    lr*l2)``)."""
    from .math_ops import abs as tf_abs, maximum, sign
    denom = add(multiply(lr, l2), 1.0)
    if isinstance(l1, (int, float)) and l1 == 0:
        return truediv(prox_v, denom)
    shrunk = maximum(subtract(tf_abs(prox_v), multiply(lr, l1)), 0.0)
    return truediv(multiply(sign(prox_v), shrunk), denom)


class AdadeltaOptimizer(Optimizer):
    """``accum = rho*accum + (1-rho)*g^2; update = sqrt(accum_update+eps)/sqrt(accum+eps)*g;
    accum_update = rho*accum_update + (1-rho)*update^2; var -= lr*update``; slots
    ``<var>/Adadelta`` (accum) and ``<var>/Adadelta_1`` (accum_update)."""

    def __init__(self, learning_rate: Any = 0.001, rho: float = 0.95, epsilon: float = 1e-8,
                 use_locking: bool = False, name: str = "Adadelta") -> None:
        super().__init__(use_locking, name)
        self._lr_value, self._rho, self._eps = learning_rate, rho, epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _apply_dense(self, grad, var):
        lr, rho, eps = (self._lr(var, x) for x in (self._lr_value, self._rho, self._eps))
        acc, acc_up = self.get_slot(var, "accum"), self.get_slot(var, "accum_update")
        acc_t = add(multiply(acc, rho), multiply(square(grad), subtract(1.0, rho)))
        update = multiply(truediv(sqrt(add(acc_up, eps)), sqrt(add(acc_t, eps))), grad)
        acc_up_t = add(multiply(acc_up, rho), multiply(square(update), subtract(1.0, rho)))
        return group(assign(acc, acc_t), assign(acc_up, acc_up_t),
                     assign(var, subtract(var, multiply(update, lr)), name="ApplyAdadelta"))


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal (TF's ApplyFtrlV2): ``accum_new = accum + g^2; linear += g' -
    (accum_new^-p - accum^-p)/lr * var; var = (sign(linear)*l1 - linear) / (accum_new^-p/lr +
    2*l2)`` where |linear| > l1, else 0 (p = learning_rate_power, g' = g + 2*l2_shrinkage*var);
    slots ``<var>/Ftrl`` (accum, starts at initial_accumulator_value) and ``<var>/Ftrl_1``."""

    def __init__(self, learning_rate: Any, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "Ftrl", accum_name: Optional[str] = None,
                 linear_name: Optional[str] = None,
                 l2_shrinkage_regularization_strength: float = 0.0) -> None:
        if initial_accumulator_value < 0.0:
            raise ValueError("initial_accumulator_value %f needs to be positive or zero"
                             % initial_accumulator_value)
        if learning_rate_power > 0.0:
            raise ValueError("learning_rate_power %f needs to be negative or zero"
                             % learning_rate_power)
        for what, v in (("l1_regularization_strength", l1_regularization_strength),
                        ("l2_regularization_strength", l2_regularization_strength),
                        ("l2_shrinkage_regularization_strength",
                         l2_shrinkage_regularization_strength)):
            if v < 0.0:
                raise ValueError(f"{what} {v:f} needs to be positive or zero")
        super().__init__(use_locking, name)
        self._lr_value, self._power = learning_rate, learning_rate_power
        self._init_acc = initial_accumulator_value
        self._l1, self._l2 = l1_regularization_strength, l2_regularization_strength
        self._shrink = l2_shrinkage_regularization_strength
        self._accum_name, self._linear_name = accum_name, linear_name

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._accum_name or self._name, value=self._init_acc)
            self._zeros_slot(v, "linear", self._linear_name or self._name)

    def _apply_dense(self, grad, var):
        from .math_ops import abs as tf_abs, greater, pow as tf_pow, sign
        from .array_ops import select as where, zeros_like
        lr = self._lr(var, self._lr_value)
        p = -float(self._power)
        acc, lin = self.get_slot(var, "accum"), self.get_slot(var, "linear")
        acc_t = add(acc, square(grad))
        g_lin = grad if self._shrink == 0 else add(grad, multiply(var, 2.0 * self._shrink))
        sigma = truediv(subtract(tf_pow(acc_t, p), tf_pow(acc, p)), lr)
        lin_t = subtract(add(lin, g_lin), multiply(sigma, var))
        quad = add(truediv(tf_pow(acc_t, p), lr), 2.0 * float(self._l2))
        l1 = self._lr(var, self._l1)
        new_var = truediv(subtract(multiply(sign(lin_t), l1), lin_t), quad)
        new_var = where(greater(tf_abs(lin_t), l1), new_var, zeros_like(new_var))
        return group(assign(acc, acc_t), assign(lin, lin_t),
                     assign(var, new_var, name="ApplyFtrl"))


class ProximalGradientDescentOptimizer(Optimizer):
    """``prox = var - lr*g; var = sign(prox)*max(|prox| - lr*l1, 0) / (1 + lr*l2)``."""

    def __init__(self, learning_rate: Any, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "ProximalGradientDescent") -> None:
        super().__init__(use_locking, name)
        self._lr_value = learning_rate
        self._l1, self._l2 = l1_regularization_strength, l2_regularization_strength

    def _apply_dense(self, grad, var):
        lr = self._lr(var, self._lr_value)
        new = _proximal(subtract(var, multiply(lr, grad)), lr, self._l1, self._l2)
        return assign(var, new, name="ApplyProximalGradientDescent")


class ProximalAdagradOptimizer(Optimizer):
    """``accum += g^2; lr_t = lr/sqrt(accum); prox = var - lr_t*g; var = sign(prox) *
    max(|prox| - lr_t*l1, 0) / (1 + lr_t*l2)``; slot ``<var>/ProximalAdagrad``."""

    def __init__(self, learning_rate: Any, initial_accumulator_value: float = 0.1,
                 l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, use_locking: bool = False,
                 name: str = "ProximalAdagrad") -> None:
        if initial_accumulator_value <= 0.0:
            raise ValueError(f"initial_accumulator_value must be positive: "
                             f"{initial_accumulator_value}")
        super().__init__(use_locking, name)
        self._lr_value, self._init_acc = learning_rate, initial_accumulator_value
        self._l1, self._l2 = l1_regularization_strength, l2_regularization_strength

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accumulator", self._name, value=self._init_acc)

    def _apply_dense(self, grad, var):
        from .math_ops import rsqrt
        acc = self.get_slot(var, "accumulator")
        acc_t = add(acc, square(grad))
        lr_t = multiply(self._lr(var, self._lr_value), rsqrt(acc_t))
        new = _proximal(subtract(var, multiply(lr_t, grad)), lr_t, self._l1, self._l2)
        return group(assign(acc, acc_t), assign(var, new, name="ApplyProximalAdagrad"))


class ExponentialMovingAverage:
    """Shadow variables ``<var>/ExponentialMovingAverage`` (starting at the variable's initial
    value) moved by ``apply()``'s op: ``shadow -= (1 - decay) * (shadow - var)``, with
    ``decay = min(decay, (1 + num_updates) / (10 + num_updates))`` when num_updates is given."""

    def __init__(self, decay: Any, num_updates: Any = None, zero_debias: bool = False,
                 name: str = "ExponentialMovingAverage") -> None:
        if zero_debias:
            raise NotImplementedError("ExponentialMovingAverage(zero_debias=True) is not "
                                      "supported yet")
        self._decay, self._num_updates, self._name = decay, num_updates, name
        self._averages: dict = {}

    @property
    def name(self) -> str:
        return self._name

    def apply(self, var_list=None) -> Operation:
        from .variables import trainable_variables as _tv
        g = get_default_graph()
        var_list = list(_tv() if var_list is None else var_list)
        for v in var_list:
            if not v.dtype.is_floating:
                raise TypeError(f"The variables must be half, float, or double: {v.name}")
            if v in self._averages:
                raise ValueError(f"Moving average already computed for: {v.name}")
        with g.name_scope(None):
            for v in var_list:
                init = v.initialized_value() if isinstance(v, Variable) else v
                if isinstance(v, Variable):
                    avg = Variable(init, trainable=False, name=f"{v.op.name}/{self._name}",
                                   dtype=v.dtype)
                else:
                    from .array_ops import zeros
                    t = convert_to_tensor(v)
                    avg = Variable(zeros(t.shape.as_list(), t.dtype), trainable=False,
                                   name=f"{t.op.name}/{self._name}", dtype=t.dtype)
                self._averages[v] = avg
                if isinstance(v, Variable):
                    g.add_to_collection("moving_average_variables", v)
        with name_scope(self._name) as scope:
            decay = convert_to_tensor(self._decay, dtype="float32", name="decay") \
                if not isinstance(self._decay, Tensor) else self._decay
            if self._num_updates is not None:
                from .math_ops import minimum
                n = cast(convert_to_tensor(self._num_updates), decay.dtype)
                decay = minimum(decay, truediv(add(n, 1.0), add(n, 10.0)))
            ups = []
            for v in var_list:
                avg = self._averages[v]
                d = cast(decay, avg.dtype) if decay.dtype is not avg.dtype else decay
                delta = multiply(subtract(avg, convert_to_tensor(v)), subtract(1.0, d))
                from .variables import assign_sub
                ups.append(assign_sub(avg, delta))
            return group(*ups, name=scope)

    def average(self, var: Any) -> Optional[Variable]:
        return self._averages.get(var)

    def average_name(self, var: Any) -> str:
        return f"{var.op.name}/{self._name}"

    def variables_to_restore(self, moving_avg_variables=None) -> dict:
        """``{name: variable}`` restoring each averaged variable from its average's key."""
        from .variables import global_variables
        out = {}
        averaged = list(moving_avg_variables) if moving_avg_variables is not None else \
            get_default_graph().get_collection("moving_average_variables") + \
            trainable_variables()
        shadows = set(id(a) for a in self._averages.values())
        for v in averaged:
            out[self.average_name(v)] = v
        averaged_ids = set(id(v) for v in averaged)
        for v in global_variables():
            if id(v) not in shadows and id(v) not in averaged_ids and v.op.name not in out:
                out[v.op.name] = v
        return out


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
