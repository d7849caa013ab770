"""Test configuration: in CI (CI=true) hypothesis runs derandomized, so a run is reproducible
and a failure shows the same example locally with CI=true."""
import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

# The pass manager verifies the IR after every pass here (normal runs verify once, at the
# end): a pass that breaks the IR is caught and named by whichever test runs it.
os.environ.setdefault("JITFLOW_VERIFY_EACH_PASS", "1")

# Every llvm cache hit also generates the module's LLVM IR and compares it with the cached
# record (backends/llvm/cached.py): a cache key that misses an input of the code generator
# fails the test that exercises that input instead of running code made from other IR.
os.environ.setdefault("JITFLOW_CHECK_CACHE_KEYS", "1")
