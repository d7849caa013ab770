"""Reference program 1 (../shared/workloads/quadratic.py) runs unchanged on jitflow.

The workloads folder is found next to the repository (``<repo>/../shared/workloads``) or
through ``JITFLOW_WORKLOADS``; the test is skipped when neither exists.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKLOADS = Path(os.environ.get("JITFLOW_WORKLOADS", REPO / ".." / "shared" / "workloads"))
SCRIPT = WORKLOADS / "quadratic.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason=f"{SCRIPT} not found (set JITFLOW_WORKLOADS)")
def test_quadratic_workload_trains(tmp_path):
    env = dict(os.environ)
    env["WORKLOAD_OUT"] = str(tmp_path)
    env.pop("WORKLOAD_TF", None)                      # run on jitflow, the default
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + ([env["PYTHONPATH"]]
                                                       if env.get("PYTHONPATH") else []))
    env.setdefault("MPLBACKEND", "Agg")
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, proc.stdout
    result = json.loads(lines[-1])
    assert result["workload"] == "quadratic"
    assert result["framework"] == "jitflow.compat.v1"
    assert result["final_loss"] < 0.01, result
    assert result["steps_1999_seconds"] > 0
