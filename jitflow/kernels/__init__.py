"""The kernel plan, between the passes and the backends, shared by every compiling backend.

From a fused ``ir.Function`` to kernels: which values are needed (``groups.needed_values``),
the kernel groups (``groups.kernel_groups``: a fusion group split where a kernel could not
compute it in one loop), which values live in memory (``groups.materialized``), the buffers
and kernels (``plan``), the run-time shapes of one input signature (``shapes``), the arena
layout (``arena``), index maps ``base + sum(idx * stride)`` (``indexmap``) and the run-time
error table (``errors``). A backend only *spells* the plan: its scalar-op table, its loop
emission and its library kernels.
"""
