"""The package type-checks under mypy (its configuration: ``[tool.mypy]`` in pyproject.toml), and
so does a user's program written against the public API, with useful types: the results of
Tensor arithmetic, reductions and functional losses are Tensors, not ``Any``.

mypy is a development tool, not a test dependency: without it these tests are skipped, except
where ``AG_REQUIRE_TYPECHECK=1`` is set (CI), where that is a failure. Both runs share one
cache, so the second reads the package from it.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Exercises the public API as a user would; assert_type fails the check where a result is typed
# as something else than what it is (Any included).
USER_PROGRAM = textwrap.dedent('''
    from typing import assert_type

    import numpy as np

    import autograd as ag
    import autograd.nn.functional as F
    from autograd import nn, optim
    from autograd.compile import Compiled

    x: ag.Tensor = ag.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * 2.0).sum()
    y.backward()
    assert_type(y, ag.Tensor)
    assert_type(x.grad, ag.Tensor | None)

    a = np.ones((2, 2), dtype=np.float32)
    assert_type(x + a, ag.Tensor)
    assert_type(x * a - 1.0, ag.Tensor)
    assert_type(1.0 / (x + 2.0), ag.Tensor)
    assert_type(2.0 * x ** 2, ag.Tensor)
    assert_type(x @ x, ag.Tensor)
    assert_type(-x.exp().mean(axis=0), ag.Tensor)
    assert_type(x < 0.5, ag.Tensor)
    assert_type(x == x, ag.Tensor)
    assert_type(x.sum().item(), float)

    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 3))
    opt = optim.SGD(model.parameters(), lr=0.1)
    labels = ag.Tensor(np.array([0, 2]))  # class indices (int64)


    def train_step(inputs: ag.Tensor, targets: ag.Tensor) -> ag.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(inputs), targets)
        assert_type(loss, ag.Tensor)
        loss.backward()
        opt.step()
        return loss


    step = ag.compile(train_step)
    assert_type(step, Compiled)
    for _ in range(3):  # eager (warm-up), recorded, replayed
        step(x.detach(), labels)
    assert step.replays == 1, step.explain()

    with ag.no_grad():
        z = model(x) * 2.0
    assert not z.requires_grad
    w = x.detach()
    w += 1.0
    assert_type(w, ag.Tensor)
    assert_type(ag.no_grad(), ag.no_grad)
''')


@pytest.fixture(scope="module")
def mypy(tmp_path_factory):
    """Run mypy from the repository root (so that pyproject.toml configures it) with a cache
    shared by this module's tests; returns (exit status, output)."""
    if importlib.util.find_spec("mypy") is None:
        why = "mypy is not installed (pip install mypy)"
        if os.environ.get("AG_REQUIRE_TYPECHECK", "0") not in ("", "0"):
            pytest.fail(f"AG_REQUIRE_TYPECHECK is set but {why}")
        pytest.skip(why)
    cache = tmp_path_factory.mktemp("mypy_cache")

    def run(*args: str) -> tuple[int, str]:
        proc = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir", str(cache), *args],
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        return proc.returncode, proc.stdout + proc.stderr

    return run


def test_the_package_type_checks(mypy):
    status, out = mypy()  # the files of [tool.mypy]: the package
    assert status == 0, out


def test_a_user_program_type_checks_with_useful_types(mypy, tmp_path):
    program = tmp_path / "user_program.py"
    program.write_text(USER_PROGRAM)
    status, out = mypy(str(program))
    assert status == 0, out


def test_the_user_program_runs(tmp_path):
    """What is type-checked above is a working program."""
    program = tmp_path / "user_program.py"
    program.write_text(USER_PROGRAM)
    run = subprocess.run([sys.executable, str(program)], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(
                             [str(ROOT), os.environ.get("PYTHONPATH", "")])}, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_package_ships_its_type_marker():
    """PEP 561: the installed package says it is typed."""
    assert (ROOT / "autograd" / "py.typed").is_file()
    assert 'autograd = ["py.typed"]' in (ROOT / "pyproject.toml").read_text()
