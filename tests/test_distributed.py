"""autograd.distributed: the world of one process here, and real MPI jobs (``mpiexec -n 2``, ``3``
and ``4`` running tests/_mpi_worker.py, each bounded by a timeout).

The MPI tests need mpi4py and an ``mpiexec`` (the ``mpi`` extra brings both); they are skipped
where either is missing, except where ``AG_REQUIRE_MPI`` is set (CI), where that is a failure.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import autograd as ag
import autograd.distributed as dist
from autograd import nn, optim
from autograd.distributed import world as world_mod

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "_mpi_worker.py"
TIMEOUT = 90  # seconds for one mpiexec run; each takes one to a few on 2 busy cores


def _load_worker():
    spec = importlib.util.spec_from_file_location("_mpi_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clean_env() -> dict:
    """This environment without any MPI launcher's variables, this work tree first on the path,
    and one BLAS thread per process (several processes share two cores)."""
    env = {k: v for k, v in os.environ.items()
           if not any(k in pair for pair in world_mod.LAUNCHER_VARS)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[v] = "1"
    return env


# ----------------------------------------------------------------------------- one process
@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 10, 24, 101, 1000])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8])
def test_shard_covers_every_index_once_and_is_balanced(n, size):
    shares = [dist.shard(n, r, size) for r in range(size)]
    every = np.concatenate([np.asarray(s, dtype=np.int64) for s in shares])
    np.testing.assert_array_equal(np.sort(every), np.arange(n))  # each index exactly once
    lengths = [len(s) for s in shares]
    assert max(lengths) - min(lengths) <= 1 and sum(lengths) == n
    dropped = [dist.shard(n, r, size, drop_last=True) for r in range(size)]
    assert {len(s) for s in dropped} == {n // size}
    kept = np.concatenate([np.asarray(s, dtype=np.int64) for s in dropped])
    assert len(set(kept.tolist())) == len(kept) and kept.max(initial=-1) < n


def test_shard_refuses_bad_arguments():
    with pytest.raises(ValueError, match="rank 2 is not in 0 .. 1"):
        dist.shard(10, 2, 2)
    with pytest.raises(ValueError, match="n must be >= 0"):
        dist.shard(-1)
    with pytest.raises(TypeError, match="n must be an integer"):
        dist.shard(2.5)
    with pytest.raises(ValueError, match="world_size must be >= 1"):
        dist.shard(4, 0, 0)


def test_a_world_of_one_process_without_a_launcher():
    assert world_mod.launcher_info() is None, "run the tests outside mpiexec"
    assert (dist.rank(), dist.world_size()) == (0, 1)
    assert dist.shard(10) == range(0, 10)
    dist.barrier()
    t = ag.Tensor(np.arange(3.0))
    for op in ("sum", "mean", "max", "min"):
        assert dist.all_reduce(t, op) is t
    np.testing.assert_array_equal(t.numpy(), np.arange(3.0))
    with pytest.raises(ValueError, match="'prod'"):
        dist.all_reduce(t, "prod")
    with pytest.raises(TypeError, match="expected a Tensor"):
        dist.all_reduce(np.zeros(2))
    with pytest.raises(TypeError, match="single Tensor"):
        dist.broadcast_parameters(t)
    with pytest.raises(ValueError, match="root 1 is not a rank of this 1-process job"):
        dist.broadcast_parameters([t], root=1)
    dist.broadcast_parameters([t])
    opt = optim.SGD([ag.Tensor(np.zeros(2), requires_grad=True)], lr=0.1)
    dist.broadcast_optimizer_state(opt)
    with pytest.raises(TypeError, match="expected an optimizer"):
        dist.broadcast_optimizer_state([t])


def test_ddp_in_one_process_is_the_module_itself(torch):
    """The wrapper runs the module, passes its names through, and leaves gradients as they are:
    checked against PyTorch on the same weights."""
    ag.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 6, dtype=np.float64), nn.Tanh(), nn.Linear(6, 2, dtype=np.float64))
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=0.001)
    assert ddp.module is model
    assert list(ddp.state_dict()) == list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [id(p) for p in ddp.parameters()] == [id(p) for p in model.parameters()]
    ddp.eval()
    assert not model.training and not model[0].training
    ddp.train()
    assert model.training
    x = np.random.default_rng(0).standard_normal((5, 4))
    (ddp(ag.Tensor(x)) ** 2).mean().backward()

    tm = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 2)).double()
    with torch.no_grad():
        for tp, p in zip(tm.parameters(), model.parameters()):
            tp.copy_(torch.from_numpy(p.numpy()))
    (tm(torch.from_numpy(x)) ** 2).mean().backward()
    for tp, p in zip(tm.parameters(), model.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-12)

    fresh = nn.Sequential(nn.Linear(4, 6, dtype=np.float64), nn.Tanh(), nn.Linear(6, 2, dtype=np.float64))
    fresh.load_state_dict(ddp.state_dict())  # a checkpoint of the wrapper loads unwrapped
    with pytest.raises(TypeError, match="wraps an nn.Module"):
        dist.DistributedDataParallel([model])
    with pytest.raises(ValueError, match="bucket_cap_mb must be > 0"):
        dist.DistributedDataParallel(model, bucket_cap_mb=0)


def test_save_replaces_the_file_in_one_step_and_a_failed_save_loses_nothing(tmp_path):
    path = tmp_path / "ckpt.npz"
    dist.save({"w": ag.Tensor(np.arange(3.0))}, path)
    np.testing.assert_array_equal(ag.load(path)["w"].numpy(), np.arange(3.0))
    # A save that fails half-way (an object ag.save cannot store, met after the first array has
    # been written): the previous checkpoint is intact and no temporary file is left behind.
    with pytest.raises(TypeError, match="cannot store"):
        dist.save({"a": ag.Tensor(np.ones(2)), "b": object()}, path)
    np.testing.assert_array_equal(ag.load(path)["w"].numpy(), np.arange(3.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz"]
    with pytest.raises(FileNotFoundError):
        dist.save({"w": ag.Tensor(np.ones(1))}, tmp_path / "missing" / "c.npz")


def _python(code: str, **extra_env: str) -> subprocess.CompletedProcess:
    env = _clean_env()
    env.update(extra_env)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60)


def test_importing_autograd_never_imports_mpi4py():
    proc = _python("import sys, autograd, autograd.distributed as d\n"
                   "assert (d.rank(), d.world_size()) == (0, 1)\n"
                   "d.barrier()\n"
                   "assert 'mpi4py' not in sys.modules, 'mpi4py was imported'\n"
                   "assert sys.excepthook is sys.__excepthook__\n"
                   "print('fine')")
    assert proc.returncode == 0 and "fine" in proc.stdout, proc.stderr


def test_a_launcher_without_mpi4py_is_a_clear_error():
    # As if mpiexec had started this process as rank 0 of 2, but mpi4py could not be imported.
    proc = _python("import sys; sys.modules['mpi4py'] = None\n"
                   "import autograd.distributed as d\n"
                   "d.world_size()", PMI_RANK="0", PMI_SIZE="2")
    assert proc.returncode != 0
    assert "started by an MPI launcher (rank 0 of 2), but mpi4py is not installed" in proc.stderr
    assert "readable-autograd[mpi]" in proc.stderr


# ----------------------------------------------------------------------------- MPI jobs
def _mpiexec_path():
    beside = Path(sys.executable).parent / "mpiexec"  # a virtual environment need not be active
    return str(beside) if beside.exists() else shutil.which("mpiexec")


@pytest.fixture(scope="module")
def mpiexec() -> str:
    exe = _mpiexec_path()
    missing = [what for what, ok in (("mpi4py", importlib.util.find_spec("mpi4py")),
                                     ("mpiexec", exe)) if not ok]
    if missing:
        why = f"{' and '.join(missing)} not found (pip install -e '.[mpi]')"
        if os.environ.get("AG_REQUIRE_MPI", "0") not in ("", "0"):
            pytest.fail(f"AG_REQUIRE_MPI is set but {why}")
        pytest.skip(why)
    return exe


def run_job(mpiexec: str, n: int, scenario: str, out: Path) -> tuple[int, str, float]:
    """Run the worker's ``scenario`` on ``n`` processes; (exit status, output, seconds). The job
    is killed, all its processes, if it outlives TIMEOUT."""
    cmd = [mpiexec, "-n", str(n), sys.executable, str(WORKER), scenario, str(out)]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=out, env=_clean_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        pytest.fail(f"mpiexec -n {n} ({scenario}) still ran after {TIMEOUT} s:\n{output}")
    return proc.returncode, output, time.monotonic() - start


def _ran_everywhere(n: int, scenario: str, rc: int, output: str) -> None:
    assert rc == 0, f"mpiexec -n {n} ({scenario}) exited with {rc}:\n{output}"
    for r in range(n):
        assert f"ok {scenario} rank {r}" in output, output


@pytest.mark.parametrize("n", [2, 4])
def test_ddp_training_equals_one_process_on_the_global_batch(mpiexec, tmp_path, n):
    rc, output, _ = run_job(mpiexec, n, "train", tmp_path)
    _ran_everywhere(n, "train", rc, output)
    worker = _load_worker()
    infos = [json.loads((tmp_path / f"info_rank{r}.json").read_text()) for r in range(n)]
    assert infos[0]["mlp"]["buckets"] == 1
    assert infos[0]["mlp_small_buckets"]["buckets"] >= 3
    for config in worker.CONFIGS:
        ranks = [ag.load(tmp_path / f"{config}_rank{r}.npz") for r in range(n)]
        ref = worker.train_reference(config, n).state_dict()
        start = worker.initial_model(config).state_dict()
        assert list(ranks[0]) == list(ref)
        for name, want in ref.items():
            for r in range(1, n):  # every process holds exactly the same weights
                np.testing.assert_array_equal(ranks[r][name].numpy(), ranks[0][name].numpy(),
                                              err_msg=f"{config} {name} rank {r}")
            got = ranks[0][name].numpy()
            np.testing.assert_allclose(got, want.numpy(), rtol=0, atol=1e-10,
                                       err_msg=f"{config} {name}")
            moved = np.abs(want.numpy() - start[name].numpy()).max()
            if name.startswith("never."):  # no gradient anywhere: weight decay never touched it
                assert moved == 0, (config, name)
            else:
                assert moved > 1e-3, (config, name)


@pytest.mark.parametrize("n", [2, 3])
def test_collectives_across_processes(mpiexec, tmp_path, n):
    rc, output, _ = run_job(mpiexec, n, "collectives", tmp_path)
    _ran_everywhere(n, "collectives", rc, output)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


@pytest.mark.parametrize("scenario, message", [
    ("raise_after_collective", "ValueError: rank 1 failed on purpose after a barrier"),
    ("raise_before_mpi", "ValueError: rank 1 failed on purpose before its first collective"),
    ("raise_in_backward", "ValueError: rank 1 failed on purpose in backward"),
])
def test_a_failing_rank_ends_the_whole_job_promptly(mpiexec, tmp_path, scenario, message):
    rc, output, seconds = run_job(mpiexec, 2, scenario, tmp_path)
    assert rc != 0, output
    assert message in output, output
    assert "rank 1 of 2 stopped with ValueError; aborting every process of the job" in output
    assert "ok " not in output  # rank 0 never got past the collective it waited in
    assert seconds < TIMEOUT / 3, f"took {seconds:.1f} s"


@pytest.mark.parametrize("scenario, status, rc_wanted, shown", [
    ("exit_after_collective", "3", 3, "rank 1 unwound its stack"),
    ("exit_with_message", "'rank 1 gave up on purpose'", 1, "rank 1 gave up on purpose"),
])
def test_a_rank_exiting_with_a_failure_status_ends_the_whole_job(mpiexec, tmp_path, scenario,
                                                                  status, rc_wanted, shown):
    """sys.exit with a failure status is not an exception, but it must not leave the others
    waiting either: the job ends promptly, after the failing rank's stack has unwound."""
    rc, output, seconds = run_job(mpiexec, 2, scenario, tmp_path)
    assert rc == rc_wanted, output
    assert shown in output, output
    assert f"rank 1 of 2 exited with status {status}; aborting every process of the job" in output
    assert "ok " not in output
    assert seconds < TIMEOUT / 3, f"took {seconds:.1f} s"


@pytest.mark.skipif(any(importlib.util.find_spec(m) is None for m in ("sklearn", "tqdm", "matplotlib")),
                    reason="the digits example needs the examples extra: pip install -e '.[examples]'")
def test_the_digits_example_trains_on_two_processes(mpiexec, tmp_path):
    script = ROOT / "examples" / "train_digits.py"
    cmd = [mpiexec, "-n", "2", sys.executable, str(script), "--distributed", "--quick",
           "--no-progress", "--out", str(tmp_path)]
    env = _clean_env()
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "distributed: 2 process(es), 16 images each per step (global batch 32)" in out
    assert out.count("final training loss") == 1  # only rank 0 prints
    acc = float(out.split("test accuracy: ")[1].split("%")[0]) / 100
    assert acc >= 0.95, out  # one process reaches 96% in these 5 epochs too
    assert "same test accuracy" in out
    written = {p.name for p in tmp_path.iterdir()}  # by rank 0 alone; no temporary files left
    assert written - {"digits_graph.svg"} == {"digits_mlp.npz", "loss_curve.png"}
