"""Developer tools: the ``jitflow`` command line (``jitflow.tools.cli``).

* ``jitflow dump-ir SCRIPT.py|FILE.jfir``: the IR of a compilation at every stage, as text,
  Graphviz DOT, SVG or a self-contained HTML page; ``--diff A B`` shows what a pass changed.
* ``jitflow run-ir FILE.jfir --inputs in.npz -o out.npz``: runs stored IR on a backend.
* ``jitflow info``: versions, backends, host CPU features, BLAS, cache, Graphviz.

The modules are also usable from Python: ``stages.capture_script`` (run a TF1 script up to a
compilation), ``stages.stages_from_ir``, ``graph.function_to_dot`` / ``graph.render_svg``,
``memory.memory_plan_text``.
"""
