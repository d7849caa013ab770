"""Compatibility namespaces: ``import jitflow.compat.v1 as tf``."""
