"""Python source for the kernel of one fusion group (elementwise or reduction), compiled with
``numba.cuda.jit`` at run time.

A group iterates over its *space* (the root's shape; a reduction's input shape). Every value
read from memory (a *leaf*) has an index map ``base + sum(ix[a] * stride[a])`` over the space's
axes, computed per input-shape signature from concrete shapes (broadcasting gives stride 0,
transposes and strided slices permute or scale strides, bias_add reads along its axis): the
generated code is independent of the batch size, so a new batch size never recompiles. Leaves
whose type equals the space's are read at the flat index ``i``; single-element leaves are
hoisted out of the loop; scalar constants are inlined; fed scalars (a learning rate, the run
step) are passed as kernel arguments instead of being copied to the device.

A reduction has a serial kernel (a thread per output element) and a block kernel (a thread
block per output element, combined pairwise in shared memory). Float sums and means add
``SUM_BLOCK`` terms per thread in the input's type, then that partial into a float64
accumulator (the block kernel's tree is float64 too; a mean divides in float64), so the error
does not grow with the number of terms: one float64 add per 32 terms costs nothing next to
the 128 bytes read for them, even at a consumer GPU's 1/64-rate float64.

The per-op code is ``scalar_ops.EW``.
"""
from __future__ import annotations

import numpy as np

from ...ir.core import Op, Value
from ...ir.opdef import OPS
from ...kernels.errors import ErrorTable, UnsupportedOp
from ...kernels.groups import same_static
from ...kernels.indexmap import contig, embed, operand_map
from ...ops.reduce import reduced_axes
from .scalar_ops import EW, Ctx
from .source import SUM_BLOCK, Src, is_special_read, lit, remaps, wrap


# ================================================================ group generator ===========


class GroupGen:
    """Generates the kernel of one group.

    ``leaf_buf(v)`` gives the buffer index holding a leaf value (None: inlined constant);
    ``host_param(v)`` the parameter index of a value passed as a host scalar (or None);
    ``outs``: (value, buffer index) pairs to store.
    Argument specs (``self.specs``): ("buf", idx) | ("host", param index) | ("int", fn) | ("err",)
    where ``fn(shapes)`` gives an int or a tuple for the input-shape signature.
    """

    def __init__(self, ops: list[Op], outs: list[tuple[Value, int]], leaf_buf, host_param,
                 errors: ErrorTable, block: int, reduce_block: int) -> None:
        self.ops = ops
        self.outs = outs
        self.leaf_buf = leaf_buf
        self.host_param = host_param
        self.errors = errors
        self.block = block
        self.reduce_block = reduce_block
        self.root = ops[-1]
        self.reduce = OPS[self.root.opname].combiner     # None: an elementwise kernel
        self.space = self.root.operands[0] if self.reduce else self.root.results[0]
        self.rank = len(self.space.type.shape)
        self.specs: list[tuple] = []
        self.params: list[str] = []
        self._int_keys: dict = {}
        self._buf_names: dict[int, str] = {}
        self._load_names: dict = {}
        self.hoisted: list[str] = []
        self.lines: list[str] = []
        self._indent = 0
        self._n = 0
        self.need_ix = False
        self.need_lin = False
        self.uses_err = False
        self.lin_name = "i"
        self.members = {id(op) for op in ops}

    # -------------------------------------------------------------- helpers -------------
    def fresh(self, p: str = "v") -> str:
        self._n += 1
        return f"{p}{self._n}"

    def ind(self, d: int) -> None:
        self._indent += d

    def body(self, line: str) -> None:
        self.lines.append("    " * self._indent + line)

    def _arg(self, name: str, spec: tuple) -> str:
        self.params.append(name)
        self.specs.append(spec)
        return name

    def buf_arg(self, idx: int) -> str:
        if idx not in self._buf_names:
            self._buf_names[idx] = self._arg(f"b{len(self._buf_names)}", ("buf", idx))
        return self._buf_names[idx]

    def int_arg(self, key, fn) -> str:
        if key not in self._int_keys:
            self._int_keys[key] = self._arg(f"p{len(self._int_keys)}", ("int", fn))
        return self._int_keys[key]

    def map_arg(self, key, fn) -> str:
        return self.int_arg(("map",) + key, fn)

    # -------------------------------------------------------------- leaves --------------
    def load(self, op: Op, idx: int) -> str:
        v = op.operands[idx]
        p = v.producer
        if p is not None and id(p) in self.members:
            return self.values[id(v)]
        if p is not None and p.opname == "constant" and p.attrs["value"].size == 1:
            return lit(p.attrs["value"].reshape(-1)[0], v.type.dtype)
        hp = self.host_param(v)
        if hp is not None:
            key = ("host", hp)
            if key not in self._load_names:
                name = self._arg(f"h{len(self._load_names)}", ("host", hp))
                loaded = self.fresh("s")
                self.hoisted.append(f"{loaded} = {wrap(v.type.dtype, name)}")
                self._load_names[key] = loaded
            return self._load_names[key]
        bidx = self.leaf_buf(v)
        special = is_special_read(op, idx)
        mkey = ("leaf", id(v), id(op), idx) if special else ("leaf", id(v))
        if mkey in self._load_names and not special:
            return self._load_names[mkey]
        b = self.buf_arg(bidx)
        if not special and v.type.num_elements() == 1:
            name = self.fresh("s")
            self.hoisted.append(f"{name} = {b}[0]")
            self._load_names[mkey] = name
            return name
        if not special and same_static(v, self.space):
            name = self.fresh("l")
            self.need_lin = True
            self.body(f"{name} = {b}[{self.lin_name}]")
            self._load_names[mkey] = name
            return name
        # general map over the space
        space_id, rank = id(self.space), self.rank
        if self.reduce and op is self.root:
            # a reduction reads its input over the space itself (its result has fewer axes)
            def fn(s, vid=id(v), space_id=space_id):
                return embed(0, contig(s[vid]), s[vid], s[space_id])
        else:
            def fn(s, op=op, idx=idx, space_id=space_id):
                base, local = operand_map(op, idx, s)
                return embed(base, local, s[id(op.results[0])], s[space_id])
        m = self.map_arg((id(v), id(op), idx) if special else (id(v),), fn)
        self.need_ix = True
        terms = [f"{m}[0]"] + [f"ix{a} * {m}[{a + 1}]" for a in range(rank)]
        name = self.fresh("l")
        self.body(f"{name} = {b}[{' + '.join(terms)}]")
        if not special:
            self._load_names[mkey] = name
        return name

    def store_index(self, v: Value) -> str:
        if same_static(v, self.space):
            self.need_lin = True
            return self.lin_name
        space_id = id(self.space)

        def fn(s, vid=id(v), space_id=space_id):
            vs = s[vid]
            return embed(0, contig(vs), vs, s[space_id])
        m = self.map_arg(("out", id(v)), fn)
        self.need_ix = True
        return " + ".join([f"{m}[0]"] + [f"ix{a} * {m}[{a + 1}]" for a in range(self.rank)])

    # -------------------------------------------------------------- body ----------------
    def emit_ops(self, ops: list[Op]) -> None:
        ctx = Ctx(self)
        self.values: dict[int, str] = getattr(self, "values", {})
        for op in ops:
            fn = EW.get(op.opname)
            if fn is None and not remaps(op.opname):
                raise UnsupportedOp("cuda", {op.opname})
            ctx.op = op
            if remaps(op.opname):
                expr = self.load(op, 0)
            else:
                skip = OPS[op.opname].shape_only
                args = [self.load(op, i) if i not in skip else None
                        for i in range(len(op.operands))]
                expr = fn(ctx, op, args)
            name = self.fresh("v")
            self.body(f"{name} = {expr}")
            self.values[id(op.results[0])] = name

    def unravel(self, src: Src, var: str, dims: str, prefix: str) -> None:
        src(f"_t = {var}")
        for a in range(self.rank - 1, 0, -1):
            src(f"{prefix}{a} = _t % {dims}[{a}]")
            src(f"_t = _t // {dims}[{a}]")
        if self.rank:
            src(f"{prefix}0 = _t")

    # -------------------------------------------------------------- ew kernel -----------
    def generate_ew(self) -> str:
        self.values = {}
        self._indent = 2
        self.emit_ops(self.ops)
        for v, bidx in self.outs:
            b = self.buf_arg(bidx)
            self.body(f"{b}[{self.store_index(v)}] = {self.values[id(v)]}")
        body = list(self.lines)
        src = Src()
        head = ["n"] + (["dims"] if self.rank and self.need_ix else []) + ["err"] + self.params
        src.ind = 0
        src(f"def kernel({', '.join(head)}):")
        src.ind = 1
        src("i = cuda.grid(1)")
        src("_st = cuda.gridsize(1)")
        for h in self.hoisted:
            src(h)
        src("while i < n:")
        src.ind = 2
        if self.need_ix and self.rank:
            self.unravel(src, "i", "dims", "ix")
        src.lines.extend(body)
        src("i += _st")
        self.kind = "ew"
        return src.text() + "\n"

    # -------------------------------------------------------------- reduce kernel -------
    def _blocked(self) -> bool:
        """A float sum or mean: accumulated in blocks (see ``generate_reduce``)."""
        return self.reduce in ("sum", "mean") and self.space.type.dtype.is_floating

    def _acc(self):
        dt = self.space.type.dtype
        k = self.reduce
        if k in ("all", "any"):
            return "i32", "i32(1)" if k == "all" else "i32(0)"
        if self._blocked():
            return "f64", "f64(0)"
        # integers accumulate in int64; uint64 in itself (its values, compared unsigned)
        acc_t = ("u64" if dt.short == "u64" else "i64") if dt.is_integer else dt.short
        if k in ("sum", "mean"):
            init = f"{acc_t}(0)"
        elif k == "prod":
            init = f"{acc_t}(1)"
        elif k == "max":
            init = lit(-np.inf, dt) if dt.is_floating else f"{acc_t}({np.iinfo(dt.np).min})"
        else:
            init = lit(np.inf, dt) if dt.is_floating else f"{acc_t}({np.iinfo(dt.np).max})"
        return acc_t, init

    def _combine(self, a: str, b: str) -> str:
        k = self.reduce
        if k in ("sum", "mean"):
            return f"{a} + {b}"
        if k == "prod":
            return f"{a} * {b}"
        if k == "max":
            return f"({b} if ({b} > {a} or {b} != {b}) else {a})"
        if k == "min":
            return f"({b} if ({b} < {a} or {b} != {b}) else {a})"
        if k == "all":
            return f"{a} & {b}"
        return f"{a} | {b}"

    def _value(self, v: str) -> str:
        k = self.reduce
        dt = self.space.type.dtype
        if k in ("all", "any"):
            return f"(i32(1) if {v} else i32(0))"
        if dt.is_integer:
            return f"u64({v})" if dt.short == "u64" else f"i64({v})"
        return v

    def _final(self, src: Src, acc: str, out: str) -> None:
        dt = self.root.results[0].type.dtype
        k = self.reduce
        if k in ("all", "any"):
            src(f"{out}[o] = {acc} != 0")
        elif k == "mean":
            if dt.is_floating:
                src(f"{out}[o] = {wrap(dt, f'{acc} / f64(nred)')}")
            elif dt.short == "u64":
                src(f"{out}[o] = {acc} // u64(nred if nred > 0 else 1)")
            elif dt.short == "u32":      # the sum wraps around first, as in TF and on llvm
                src(f"{out}[o] = u32(({acc} & i64({(1 << 32) - 1})) // (nred if nred > 0 else 1))")
            else:
                src("if nred == 0:")
                src(f"    {out}[o] = {lit(0, dt)}")
                src("else:")
                src(f"    _q = abs({acc}) // nred")
                src(f"    {out}[o] = {wrap(dt, f'-_q if {acc} < 0 else _q')}")
        else:
            src(f"{out}[o] = {wrap(dt, acc)}")

    def generate_reduce(self) -> str:
        self.values = {}
        self._indent = 3
        self.lin_name = "lin"
        # prologue: every member but the root; the reduced value is the root's operand 0
        self.emit_ops(self.ops[:-1])
        val = self.load(self.root, 0)
        body = list(self.lines)
        rank = self.rank
        out_idx = self.outs[0][1] if self.outs else None
        out = self.buf_arg(out_idx)
        acc_t, init = self._acc()
        head = ["nout", "nred", "odims", "rdims", "sst", "err"] + self.params

        blocked = self._blocked()
        dts = self.space.type.dtype.short

        def loop_body(src: Src) -> None:
            if rank:
                self.unravel(src, "r", "rdims", "ri")
                for a in range(rank):
                    src(f"ix{a} = oi{a} + ri{a}")
            if self.need_lin:
                src("lin = " + (" + ".join(f"ix{a} * sst[{a}]" for a in range(rank)) or "0"))
            pad = "    " * (src.ind - 3)     # body was generated at indent 3
            src.lines.extend(pad + line for line in body)
            if blocked:
                src(f"blk = blk + {val}")
            else:
                src(f"acc = {self._combine('acc', self._value(val))}")

        def reduce_loop(src: Src, start: str, step: str) -> None:
            """acc over r = start, start + step, ... < nred; a float sum adds SUM_BLOCK
            terms in the input's type (blk), then the block's partial into acc (float64)."""
            src(f"r = {start}")
            src("while r < nred:")
            src.ind += 1
            if blocked:
                src(f"blk = {dts}(0)")
                src(f"rend = min(r + {SUM_BLOCK} * {step}, nred)")
                src("while r < rend:")
                src.ind += 1
            loop_body(src)
            src(f"r += {step}")
            if blocked:
                src.ind -= 1
                src("acc = acc + f64(blk)")
            src.ind -= 1

        src = Src()
        src.ind = 0
        src(f"def kernel_serial({', '.join(head)}):")
        src.ind = 1
        src("o = cuda.grid(1)")
        src("_st = cuda.gridsize(1)")
        for h in self.hoisted:
            src(h)
        src("while o < nout:")
        src.ind = 2
        self.unravel(src, "o", "odims", "oi")
        src(f"acc = {init}")
        reduce_loop(src, "0", "1")
        self._final(src, "acc", out)
        src("o += _st")
        src.ind = 0
        src("")
        bs = self.reduce_block
        src(f"def kernel_block({', '.join(head)}):")
        src.ind = 1
        src(f"sm = cuda.shared.array({bs}, {acc_t})")
        src("tid = cuda.threadIdx.x")
        src("o = cuda.blockIdx.x")
        for h in self.hoisted:
            src(h)
        src("while o < nout:")
        src.ind = 2
        self.unravel(src, "o", "odims", "oi")
        src(f"acc = {init}")
        reduce_loop(src, "tid", str(bs))
        src("sm[tid] = acc")
        src("cuda.syncthreads()")
        src(f"s = {bs // 2}")
        src("while s > 0:")
        src("    if tid < s:")
        src("        _a = sm[tid]")
        src("        _b = sm[tid + s]")
        src(f"        sm[tid] = {self._combine('_a', '_b')}")
        src("    cuda.syncthreads()")
        src("    s = s // 2")
        src("if tid == 0:")
        src.ind = 3
        src("acc = sm[0]")
        self._final(src, "acc", out)
        src.ind = 2
        src("cuda.syncthreads()")
        src("o += cuda.gridDim.x")
        self.kind = "reduce"
        return src.text() + "\n"

    def reduce_axes(self, shapes) -> tuple:
        """(odims, rdims) as rank-length tuples for concrete shapes."""
        xs = shapes[id(self.space)]
        root = self.root
        if root.opname == "sum_to":
            like = shapes[id(root.operands[1])]
            lead = len(xs) - len(like)
            red = set(range(lead)) | {lead + i for i, d in enumerate(like)
                                       if d == 1 and xs[lead + i] != 1}
        else:
            red = set(reduced_axes(len(xs), root.attrs["axes"]))
        odims = tuple(1 if a in red else int(xs[a]) for a in range(len(xs)))
        rdims = tuple(int(xs[a]) if a in red else 1 for a in range(len(xs)))
        return odims, rdims

    def generate(self) -> str:
        return self.generate_reduce() if self.reduce else self.generate_ew()
