"""The program tests/test_distributed.py starts on every process of an MPI job:

    mpiexec -n N python tests/_mpi_worker.py SCENARIO OUT_DIR

* ``train``: trains a seeded float64 model under DistributedDataParallel for ``STEPS`` steps in
  each configuration of ``CONFIGS`` and writes every rank's final weights to OUT_DIR; the test
  compares them with :func:`train_reference`, the same training in one process.
* ``collectives``: all_reduce, broadcast_parameters, broadcast_optimizer_state, barrier and save,
  each checked here against values worked out by hand (asserts: a failure aborts the job with
  its traceback in mpiexec's output).
* ``raise_*``: one rank fails on purpose while the others wait for it in a collective.

Each scenario ends by printing ``ok SCENARIO rank R`` on every rank.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

import autograd as ag
import autograd.distributed as dist
import autograd.nn.functional as F
from autograd import nn, optim

GLOBAL_BATCH = 24  # divisible by 2, 3 and 4: equal shards, so the mean of means is the mean
STEPS = 10
SEED = 1234
CONFIGS = {  # name -> (model, bucket_cap_mb)
    "mlp": ("mlp", 25),                          # one bucket
    "mlp_small_buckets": ("mlp", 0.001),         # ~1 KB: several buckets
    "unused_small_buckets": ("branchy", 0.001),  # parameters left out in some steps
}


class Branchy(nn.Module):
    """A head ``extra`` used only in some steps and on some ranks, and a layer ``never`` used."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(5, 16, dtype=np.float64)
        self.head = nn.Linear(16, 3, dtype=np.float64)
        self.extra = nn.Linear(16, 3, dtype=np.float64)
        self.never = nn.Linear(3, 3, dtype=np.float64)

    def forward(self, x: ag.Tensor, use_extra: bool = False) -> ag.Tensor:
        h = self.body(x).tanh()
        out = self.head(h)
        return out + self.extra(h) if use_extra else out


def make_model(kind: str) -> nn.Module:
    if kind == "mlp":
        return nn.Sequential(nn.Linear(5, 16, dtype=np.float64), nn.Tanh(),
                             nn.Linear(16, 16, dtype=np.float64), nn.Tanh(),
                             nn.Linear(16, 3, dtype=np.float64))
    return Branchy()


def make_optimizer(model: nn.Module) -> optim.Optimizer:
    # Momentum and weight decay: a parameter given a zero gradient instead of none would move.
    return optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)


def batches() -> list:
    """The global batches (inputs, targets), the same on every process."""
    rng = np.random.default_rng(7)
    return [(rng.standard_normal((GLOBAL_BATCH, 5)), rng.standard_normal((GLOBAL_BATCH, 3)))
            for _ in range(STEPS)]


def uses_extra(step: int, rank: int) -> bool:
    # With 2 processes: rank 0 in steps 0, 3, 6, 9; rank 1 in 2, 5, 8; neither in 1, 4, 7.
    return (step + rank) % 3 == 0


def local_loss(model, kind: str, x, y, step: int, rank: int) -> ag.Tensor:
    if kind == "mlp":
        return F.mse_loss(model(ag.Tensor(x)), ag.Tensor(y))
    return F.mse_loss(model(ag.Tensor(x), use_extra=uses_extra(step, rank)), ag.Tensor(y))


def train_reference(config: str, world_size: int) -> nn.Module:
    """The same training in one process: rank 0's initial weights, and in each step the whole
    global batch (for the branchy model, the mean of what each rank's loss would be)."""
    kind, _ = CONFIGS[config]
    ag.manual_seed(SEED)
    model = make_model(kind)
    opt = make_optimizer(model)
    for step, (x, y) in enumerate(batches()):
        opt.zero_grad()
        if kind == "mlp":
            loss = local_loss(model, kind, x, y, step, 0)
        else:
            loss = 0.0
            for r in range(world_size):
                s = dist.shard(GLOBAL_BATCH, r, world_size)
                loss = loss + local_loss(model, kind, x[s.start:s.stop], y[s.start:s.stop], step, r)
            loss = loss / world_size
        loss.backward()
        opt.step()
    return model


def initial_model(config: str) -> nn.Module:
    ag.manual_seed(SEED)
    return make_model(CONFIGS[config][0])


# ----------------------------------------------------------------------------- scenarios
def scenario_train(out: Path) -> None:
    r = dist.rank()
    info = {}
    for config, (kind, cap) in CONFIGS.items():
        ag.manual_seed(SEED + r)  # different on every rank: the wrapper must copy rank 0's
        model = make_model(kind)
        ddp = dist.DistributedDataParallel(model, bucket_cap_mb=cap)
        opt = make_optimizer(ddp)
        mine = dist.shard(GLOBAL_BATCH)
        for step, (x, y) in enumerate(batches()):
            opt.zero_grad()
            loss = local_loss(ddp, kind, x[mine.start:mine.stop], y[mine.start:mine.stop], step, r)
            loss.backward()
            opt.step()
        ag.save(ddp.state_dict(), out / f"{config}_rank{r}.npz")
        info[config] = {"buckets": len(ddp._buckets)}
    (out / f"info_rank{r}.json").write_text(json.dumps(info))


def expect_error(kind: type, fn, *needles: str) -> str:
    try:
        fn()
    except kind as e:
        msg = str(e)
        for needle in needles:
            assert needle in msg, f"{needle!r} not in the message: {msg}"
        return msg
    raise AssertionError(f"{fn} raised no {kind.__name__}")


def scenario_collectives(out: Path) -> None:
    r, size = dist.rank(), dist.world_size()
    assert size > 1 and 0 <= r < size

    # all_reduce: rank r holds (r + 1)·base, so the sum is base·W(W+1)/2, the max base·W.
    base = np.arange(6.0).reshape(2, 3)
    expected = {"sum": base * size * (size + 1) / 2, "mean": base * (size + 1) / 2,
                "max": base * size, "min": base}
    for op, want in expected.items():
        for dtype in (np.float64, np.float32, np.float16):
            t = ag.Tensor((base * (r + 1)).astype(dtype))
            assert dist.all_reduce(t, op) is t
            assert t.dtype == dtype, (op, t.dtype)
            np.testing.assert_array_equal(t.numpy(), want.astype(dtype))
    t = ag.Tensor(np.arange(4, dtype=np.int64) * (r + 1))
    np.testing.assert_array_equal(dist.all_reduce(t).numpy(), np.arange(4) * size * (size + 1) // 2)
    held = np.arange(12.0).reshape(3, 4) * (r + 1)
    t = ag.Tensor(held.T)  # a transposed view: reduced through a contiguous copy, written back
    dist.all_reduce(t, "sum")
    np.testing.assert_array_equal(held, np.arange(12.0).reshape(3, 4) * size * (size + 1) / 2)
    expect_error(RuntimeError, lambda: dist.all_reduce(ag.Tensor(np.zeros(2 + r))),
                 "rank 0: shape (2,) float64", "rank 1: shape (3,) float64")
    expect_error(ValueError, lambda: dist.all_reduce(ag.Tensor(np.zeros(2)), "avg"), "'avg'")
    expect_error(TypeError, lambda: dist.all_reduce(ag.Tensor(np.zeros(2, np.int64)), "mean"),
                 "int64")

    # broadcast_parameters: every rank ends with rank 0's initial weights (rebuilt here from
    # rank 0's seed) and buffer.
    def build(seed):
        ag.manual_seed(seed)
        m = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.Linear(4, 2, dtype=np.float64))
        m.register_buffer("counter", ag.Tensor(np.array([seed, 7], dtype=np.int64)))
        return m

    m = build(r)
    dist.broadcast_parameters(m)
    want = build(0).state_dict()
    for name, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), want[name].numpy(), err_msg=name)
    last = size - 1  # another root, and a state dict of detached tensors sharing the arrays
    m = build(r)
    dist.broadcast_parameters(m.state_dict(), root=last)
    for name, v in m.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), build(last).state_dict()[name].numpy())
    ts = [ag.Tensor(np.full(3, float(r))), ag.Tensor(np.full((2, 2), float(r)).T)]
    dist.broadcast_parameters(ts, root=1)
    assert all((t.numpy() == 1.0).all() for t in ts)
    # A graph recorded before the broadcast saved the old weights: its backward must refuse
    # (as after any in-place write), on the root too, whose values did not change but whose
    # peers' did, so that every rank fails alike.
    m = build(r)
    x = ag.Tensor(np.ones((2, 3)))
    stale = (m(x) ** 2).sum()
    dist.broadcast_parameters(m)
    expect_error(RuntimeError, stale.backward, "modified by an in-place operation")
    (m(x) ** 2).sum().backward()  # a graph recorded afterwards is fine
    wrong = nn.Sequential(nn.Linear(3, 4 + r, dtype=np.float64))
    expect_error(RuntimeError, lambda: dist.broadcast_parameters(wrong),
                 "'0.weight' has shape (5, 3) on rank 1 but (4, 3) on rank 0")
    expect_error(RuntimeError, lambda: dist.DistributedDataParallel(wrong),
                 "'0.weight' has shape (5, 3) on rank 1 but (4, 3) on rank 0")
    deeper = nn.Sequential(*[nn.Linear(3, 3, dtype=np.float64) for _ in range(1 + min(r, 1))])
    expect_error(RuntimeError, lambda: dist.broadcast_parameters(deeper),
                 "'1.weight' (shape (3, 3)) is on rank 1 but not on rank 0")
    typed = nn.Linear(2, 2, dtype=np.float64 if r == 0 else np.float32)
    expect_error(RuntimeError, lambda: dist.broadcast_parameters(typed),
                 "'weight' is float32 on rank 1 but float64 on rank 0")
    frozen = build(0)
    if r == 1:
        frozen[1].requires_grad_(False)
    expect_error(RuntimeError, lambda: dist.DistributedDataParallel(frozen),
                 "must train the same parameters", "rank 1")
    expect_error(ValueError, lambda: dist.broadcast_parameters(m, root=size), f"root {size}")

    # broadcast_optimizer_state: only rank 0 has stepped; afterwards all hold its buffers, so the
    # element-wise max and min over ranks agree with each rank's own values.
    m = build(0)
    opt = optim.Adam(m.parameters(), lr=0.1)
    if r == 0:
        for _ in range(2):
            opt.zero_grad()
            (m(ag.Tensor(np.ones((2, 3)))) ** 2).sum().backward()
            opt.step()
    dist.broadcast_optimizer_state(opt)
    for p in m.parameters():
        st = opt.state[p]
        assert st["step"] == 2
        for key in ("exp_avg", "exp_avg_sq"):
            hi = dist.all_reduce(ag.Tensor(st[key].copy()), "max").numpy()
            lo = dist.all_reduce(ag.Tensor(st[key].copy()), "min").numpy()
            np.testing.assert_array_equal(hi, st[key])
            np.testing.assert_array_equal(lo, st[key])
            assert np.abs(st[key]).max() > 0
    fewer = optim.Adam(list(m.parameters())[: 4 - min(r, 1)], lr=0.1)
    expect_error(RuntimeError, lambda: dist.broadcast_optimizer_state(fewer),
                 "holds 4 parameters on rank 0 but 3 on rank 1")

    # A backward that fails (here on every process) after some buckets have started leaves the
    # wrapper out of step: its next forward refuses to run rather than mismatch reductions.
    ag.manual_seed(0)
    net = dist.DistributedDataParallel(make_model("mlp"), bucket_cap_mb=0.001)

    def fail(g):
        raise ValueError("failed in backward")

    def fail_below(mod, args, out):  # the tanh after the first layer fails in backward
        out.register_hook(fail)

    net.module[1].register_forward_hook(fail_below)
    x = ag.Tensor(np.ones((2, 5)))
    expect_error(ValueError, lambda: (net(x) ** 2).mean().backward(), "failed in backward")
    assert net._next >= 2  # the last layers' buckets had started
    expect_error(RuntimeError, lambda: net(x), "out of step")

    # no_sync and float16 (summed as float32): for y = x Wᵀ + b and loss Σ y, ∂/∂W[j, i] = Σₙ x[n, i]
    # and ∂/∂b[j] = N. Rank r backpropagates batches of 2 rows full of r, then of r + 1.
    half = nn.Linear(4, 3, dtype=np.float16)
    net = dist.DistributedDataParallel(half, bucket_cap_mb=0.0001)
    with net.no_sync():  # local only: 2r on this rank
        net(ag.Tensor(np.full((2, 4), r, dtype=np.float16))).sum().backward()
    np.testing.assert_array_equal(half.weight.grad.numpy(), np.full((3, 4), 2 * r))
    net(ag.Tensor(np.full((2, 4), r + 1, dtype=np.float16))).sum().backward()
    # this rank's total is 2r + 2(r + 1) = 4r + 2; its mean over r = 0 .. W-1 is 2W
    assert half.weight.grad.dtype == np.float16
    np.testing.assert_array_equal(half.weight.grad.numpy(), np.full((3, 4), 2 * size))
    np.testing.assert_array_equal(half.bias.grad.numpy(), np.full(3, 4))

    # save: rank 0's object, written by rank 0 only, in place when any rank returns.
    dist.barrier()
    path = out / "checkpoint.npz"
    dist.save({"w": ag.Tensor(np.full(2, float(r)))}, path)
    np.testing.assert_array_equal(ag.load(path)["w"].numpy(), [0.0, 0.0])
    dist.barrier()
    assert [p.name for p in out.iterdir() if p.name.endswith(".tmp")] == []
    missing = out / "no_such_folder" / "c.npz"
    expect_error(FileNotFoundError if r == 0 else RuntimeError,
                 lambda: dist.save({"w": ag.Tensor(np.zeros(2))}, missing), "no_such_folder")


def scenario_raise_after_collective(out: Path) -> None:
    dist.barrier()
    if dist.rank() == 1:
        raise ValueError("rank 1 failed on purpose after a barrier")
    dist.barrier()  # never completes: rank 1 will not come


def scenario_exit_after_collective(out: Path) -> None:
    dist.barrier()
    if dist.rank() == 1:
        try:
            sys.exit(3)  # as `sys.exit(main())` does when main reports a failure
        finally:
            print("rank 1 unwound its stack", flush=True)
    dist.barrier()  # never completes: rank 1 will not come


def scenario_exit_with_message(out: Path) -> None:
    dist.barrier()
    if dist.rank() == 1:
        sys.exit("rank 1 gave up on purpose")  # as argparse's errors and many scripts do
    dist.barrier()


def scenario_raise_before_mpi(out: Path) -> None:
    pass  # see main: the failing rank raises before any call into autograd.distributed


def scenario_raise_in_backward(out: Path) -> None:
    ag.manual_seed(0)
    ddp = dist.DistributedDataParallel(make_model("mlp"), bucket_cap_mb=0.001)
    y = ddp(ag.Tensor(np.ones((4, 5))))
    if dist.rank() == 1:
        def fail(g):
            raise ValueError("rank 1 failed on purpose in backward")
        y.register_hook(fail)
    (y ** 2).mean().backward()  # rank 0 waits for rank 1's gradients
    dist.barrier()


def main() -> None:
    scenario, out = sys.argv[1], Path(sys.argv[2])
    if scenario == "raise_before_mpi" and os.environ.get("PMI_RANK") == "1":
        raise ValueError("rank 1 failed on purpose before its first collective")
    globals()[f"scenario_{scenario}"](out)
    dist.barrier()
    print(f"ok {scenario} rank {dist.rank()}", flush=True)


if __name__ == "__main__":
    main()
