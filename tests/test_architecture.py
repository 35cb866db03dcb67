"""The package's shape, checked: modules load in one direction, and the backend's surface is named.

* No import cycles among the package's modules, counting every import that runs when a module
  loads (module level, not inside a function or an ``if TYPE_CHECKING`` block).
* Everything the package takes from the backend (``B.<name>``) is either a function or dtype of
  the array API standard, under the standard's name, or one of the backend's named extras.
* The methods and operators that the ops' registrations attach to Tensor at run time are the
  ones ``tensor.py`` declares to type checkers, each as the same function.
"""
from __future__ import annotations

import ast
import inspect
import pathlib
import re

import autograd.backend as B

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "autograd"

# The array API standard (2023.12): the names of its functions, constants and dtypes that a
# backend may be asked for. https://data-apis.org/array-api/2023.12/API_specification/
ARRAY_API = set("""
abs acos acosh add asin asinh atan atan2 atanh bitwise_and bitwise_left_shift bitwise_invert
bitwise_or bitwise_right_shift bitwise_xor ceil clip conj copysign cos cosh divide equal exp expm1
floor floor_divide greater greater_equal hypot imag isfinite isinf isnan less less_equal log log1p
log2 log10 logaddexp logical_and logical_not logical_or logical_xor maximum minimum multiply
negative not_equal positive pow real remainder round sign signbit sin sinh square sqrt subtract
tan tanh trunc
arange asarray empty empty_like eye from_dlpack full full_like linspace meshgrid ones ones_like
tril triu zeros zeros_like
astype can_cast finfo iinfo isdtype result_type
bool int8 int16 int32 int64 uint8 uint16 uint32 uint64 float32 float64 complex64 complex128
e inf nan newaxis pi
broadcast_arrays broadcast_to concat expand_dims flip moveaxis permute_dims repeat reshape roll
squeeze stack tile unstack
argmax argmin nonzero searchsorted where
unique_all unique_counts unique_inverse unique_values
argsort sort
cumulative_sum max mean min prod std sum var
all any
matmul matrix_transpose tensordot vecdot
take
""".split())


def _modules() -> dict:
    """{dotted module name: path} for every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _load_time_imports(name: str, path: pathlib.Path, known: set) -> set:
    """The package modules ``name`` imports while it loads."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()

    def visit(stmts):
        for node in stmts:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # never runs
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue  # runs when called, not when loaded
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name in known)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                if base in known:
                    found.add(base)
                for a in node.names:  # `from . import x` imports the module x
                    if f"{base}.{a.name}" in known:
                        found.add(f"{base}.{a.name}")
            for child in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, child, None)
                if isinstance(inner, list):
                    visit(inner)
            if isinstance(node, ast.ClassDef):
                visit(node.body)

    visit(tree.body)
    found.discard(name)
    return found


def test_no_import_cycles():
    mods = _modules()
    known = set(mods)
    edges = {m: _load_time_imports(m, p, known) for m, p in mods.items()}
    # A package's __init__ runs before its submodules, so "autograd.nn -> autograd.nn.module" is
    # the package loading its parts; only imports between modules can make a cycle.
    for m in edges:
        edges[m] = {d for d in edges[m] if not d.startswith(m + ".") and not m.startswith(d + ".")}
    state: dict = {}
    cycles = []
    for start in sorted(edges):
        if state.get(start):
            continue
        stack = [(start, iter(sorted(edges[start])))]
        path = [start]
        state[start] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(nxt) == 1:
                cycles.append(path[path.index(nxt):] + [nxt])
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, iter(sorted(edges[nxt]))))
    assert cycles == []


def test_the_backend_lists_the_standard_and_its_extras():
    assert set(B.STANDARD) | set(B.DTYPES) <= ARRAY_API, "names the array API does not have"
    assert not (set(B.STANDARD) | set(B.DTYPES)) & set(B.EXTRAS)
    modules = ("annotations", "math", "np", "warnings")
    public = {n for n in vars(B) if not n.startswith("_") and n not in modules}
    listed = (set(B.STANDARD) | set(B.DTYPES) | set(B.EXTRAS)
              | {"STANDARD", "DTYPES", "EXTRAS", "NO_VALUES", "ALLOCATOR", "KEEP_FREED_MEMORY_ENV"})
    assert public - listed == set(), "backend names outside STANDARD, DTYPES and EXTRAS"
    for name in B.STANDARD + B.DTYPES + B.EXTRAS:
        assert hasattr(B, name), name


def test_the_package_uses_only_the_named_backend_surface():
    allowed = set(B.STANDARD) | set(B.DTYPES) | set(B.EXTRAS) | {"NO_VALUES"}
    used = {}
    for path in PACKAGE.rglob("*.py"):
        if path.name == "backend.py":
            continue
        for name in re.findall(r"\bB\.(\w+)", path.read_text()):
            used.setdefault(name, set()).add(path.name)
    assert used, "the scan found no backend use at all"
    assert {n: sorted(f) for n, f in used.items() if n not in allowed} == {}


def test_tensor_declares_to_type_checkers_exactly_what_the_registry_attaches():
    """The ``if TYPE_CHECKING:`` block of class Tensor declares one method per name the ops'
    registrations (and engine.py) attach, with the attached function's parameters after the
    first: the same names, kinds, defaults and annotations."""
    import autograd  # noqa: F401  (registers every op)
    from autograd import engine
    from autograd.graph import REGISTRY
    from autograd.tensor import Tensor

    tree = ast.parse((PACKAGE / "tensor.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Tensor")
    declared = {}
    for node in cls.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for d in node.body:
                assert isinstance(d, ast.FunctionDef), ast.unparse(d)
                declared[d.name] = d

    attached = {"backward": engine.backward}
    for op in REGISTRY.values():
        for name in (*op.methods, *op.reflected):
            attached[name] = op.forward
    assert set(declared) == set(attached), (
        f"declared but not attached: {sorted(set(declared) - set(attached))}; "
        f"attached but not declared: {sorted(set(attached) - set(declared))}")

    def spelled(annotation) -> str:  # the declarations write float as Number (see tensor.py)
        text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
        return re.sub(r"\bfloat\b", "Number", text)

    for name, fn in attached.items():
        want = list(inspect.signature(fn).parameters.values())[1:]
        d = declared[name]
        args = d.args
        got = [(a.arg, "POSITIONAL_OR_KEYWORD", ast.unparse(a.annotation)) for a in args.args[1:]]
        if args.vararg:
            got.append((args.vararg.arg, "VAR_POSITIONAL", ast.unparse(args.vararg.annotation)))
        got += [(a.arg, "KEYWORD_ONLY", ast.unparse(a.annotation)) for a in args.kwonlyargs]
        assert got == [(p.name, p.kind.name, spelled(p.annotation)) for p in want], name
        positional = args.args[1:]
        got_defaults = {a.arg: ast.literal_eval(x)
                        for a, x in zip(positional[len(positional) - len(args.defaults):], args.defaults)}
        got_defaults.update({a.arg: ast.literal_eval(x)
                             for a, x in zip(args.kwonlyargs, args.kw_defaults) if x is not None})
        assert got_defaults == {p.name: p.default for p in want
                                if p.default is not inspect.Parameter.empty}, name
        assert ast.unparse(d.returns) == spelled(inspect.signature(fn).return_annotation), name
    # and the run-time attributes are those functions (reflected ones wrap them)
    for op in REGISTRY.values():
        for name in op.methods:
            assert getattr(Tensor, name) is op.forward
