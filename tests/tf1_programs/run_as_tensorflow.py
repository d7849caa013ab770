"""Test helper: run a TF1 program file with ``import tensorflow`` mapped onto
``jitflow.compat.v1`` (``tensorflow.X`` -> ``jitflow.compat.v1.X``), the mapping the
``tensorflow`` alias/import hook applies. Usage: python run_as_tensorflow.py prog.py [args]."""
import importlib
import importlib.abc
import importlib.util
import runpy
import sys


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("jitflow.compat.v1" + spec.name[len("tensorflow"):])

    def exec_module(self, module):
        pass


if __name__ == "__main__":
    sys.meta_path.insert(0, _Alias())
    prog = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(prog, run_name="__main__")
