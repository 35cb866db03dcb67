"""The documentation (``docs/``, built by ``mkdocs build --strict``) keeps up with the code.

* **Every public name is in the API reference.** The public names are the package namespace
  (``ag.<name>``), each public module's ``__all__`` (its defined names where it has none), and the
  public modules themselves: every top-level module but the machinery listed in ``INTERNAL``, and
  the modules a public module's ``__all__`` names (``nn.functional``, ``optim.lr_scheduler``,
  ``ops.elementwise``, ...). The reference pages are ``::: path`` lines that mkdocstrings renders;
  ``test_every_public_name_is_in_the_reference`` works out from the Markdown what they render
  (mkdocstrings' rule: a module's ``__all__``, else the names it defines without a leading
  underscore) and needs no documentation tool. Where a built site is at hand,
  ``test_the_built_site_renders_what_the_reference_pages_say`` checks that prediction against the
  HTML, anchor by anchor.
* **The contract and the code cannot drift apart**: every name ``docs/api.md`` writes in code
  exists, every keyword it shows is a parameter of that function, with the default it states, and
  every repository path it names exists.
* **The guides run**: every fenced Python block of every page runs, page by page in a fresh
  interpreter (with warnings as errors), so a guide that stops working fails the suite.

A built site: ``AG_DOCS_SITE=site`` after ``mkdocs build --strict`` (as CI does), or, when MkDocs is
installed (``pip install -e ".[docs]"``), a build made here. Neither: those tests skip, unless
``AG_REQUIRE_DOCS=1`` makes that an error.
"""
from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import autograd as ag
from autograd.function import Function, FunctionCtx

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

# Top-level modules that are machinery rather than API. Their public names reach users through
# the package namespace (``ag.Tensor``, ``ag.grad``, ``ag.no_grad``), where they are checked, and
# the extension API of graph.py has its own page (docs/reference/graph.md). A new top-level
# module must be documented (a ``::: autograd.<name>`` page), or listed here with its reason.
INTERNAL = {
    "backend": "the array namespace ops compute with (README, 'How an op is written')",
    "engine": "backward() and grad(), documented as Tensor.backward and ag.grad",
    "graph": "registration machinery; its extension API is on the Extending page",
    "memory": "the memory model (README, 'Memory')",
    "state": "per-thread grad mode and scopes",
    "tensor": "the Tensor class, documented as ag.Tensor",
}


# ----------------------------------------------------------------------------- public names
def module_names(module) -> list[str]:
    """What mkdocstrings renders for ``::: module``: its ``__all__``, or else the names its source
    defines at top level (not imports) that do not start with an underscore. Submodules are
    pages of their own."""
    names = getattr(module, "__all__", None)
    if names is None:
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        names = []
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                names += [t.id for t in node.targets if isinstance(t, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                names.append(node.target.id)
        names = [n for n in dict.fromkeys(names) if not n.startswith("_")]
    return [n for n in names if not inspect.ismodule(getattr(module, n, None))]


def public_modules() -> dict:
    """Every public module by dotted name (see the module docstring)."""
    stack = [f"autograd.{m.name}" for m in pkgutil.iter_modules(ag.__path__)
             if not m.name.startswith("_") and m.name not in INTERNAL]
    found: dict = {}
    while stack:
        name = stack.pop()
        if name in found:
            continue
        module = found[name] = importlib.import_module(name)
        for n in getattr(module, "__all__", ()):
            value = getattr(module, n, None)
            if inspect.ismodule(value):
                stack.append(value.__name__)
    return found


def public_names() -> list[tuple[str, str, object]]:
    """(where, name, object) for every public name that is not a module."""
    out = [("autograd", n, v) for n, v in vars(ag).items()
           if not n.startswith("_") and not inspect.ismodule(v)]
    for mod_name, module in public_modules().items():
        out += [(mod_name, n, getattr(module, n)) for n in module_names(module)]
    return out


# ----------------------------------------------------------------------------- the reference
_DIRECTIVE = re.compile(r"^::: *([\w.]+)[ \t]*\n((?:[ \t]+\S.*\n)*)", re.M)


def directives() -> list[tuple[Path, str, dict]]:
    """(page, path, options) for every ``::: path`` in the docs."""
    out = []
    for page in sorted(DOCS.rglob("*.md")):
        for m in _DIRECTIVE.finditer(page.read_text(encoding="utf-8")):
            out.append((page, m.group(1), _options(m.group(2))))
    return out


def _options(block: str) -> dict:
    """The ``options:`` of a directive: ``key: value`` lines, a value being true/false, a
    ``[a, b]`` list or a ``- item`` list on the lines below."""
    options: dict = {}
    key = None
    for line in block.splitlines():
        item = re.match(r"\s*-\s*(\S+)\s*$", line)
        if item and key is not None:
            options.setdefault(key, []).append(item.group(1))
            continue
        m = re.match(r"\s*(\w+):\s*(.*?)\s*$", line)
        if not m or m.group(1) == "options":
            continue
        key, value = m.groups()
        if value.startswith("["):
            options[key] = [v.strip() for v in value.strip("[]").split(",") if v.strip()]
        elif value:
            options[key] = {"true": True, "false": False}.get(value.lower(), value)
    return options


def resolve(path: str) -> object:
    """The object at a dotted path: the module if there is one, else an attribute."""
    try:
        return importlib.import_module(path)
    except ImportError:
        parent, _, name = path.rpartition(".")
        return getattr(resolve(parent), name)


def rendered(path: str, options: dict) -> dict:
    """{anchor path: object} of what ``::: path`` with these options renders."""
    obj = resolve(path)
    out = {path: obj}
    if inspect.ismodule(obj):
        for n in options.get("members") or module_names(obj):
            out[f"{path}.{n}"] = getattr(obj, n)
        if options.get("show_submodules") and hasattr(obj, "__path__"):
            sub_options = {k: v for k, v in options.items() if k != "members"}
            for m in pkgutil.iter_modules(obj.__path__):
                if not m.name.startswith("_"):
                    out.update(rendered(f"{path}.{m.name}", sub_options))
    return out


def reference() -> dict:
    """{anchor path: object} of everything the docs render."""
    out: dict = {}
    for _, path, options in directives():
        out.update(rendered(path, options))
    return out


def missing_from(ref: dict) -> list[str]:
    """Public names and modules that no page renders (by name and identity)."""
    by_name: dict = {}
    for path, obj in ref.items():
        by_name.setdefault(path.rpartition(".")[2], []).append(obj)
    missing = [f"{where}.{name}" for where, name, obj in public_names()
               if not any(o is obj for o in by_name.get(name, ()))]
    missing += [f"{name} (module)" for name, module in public_modules().items()
                if not any(o is module for o in ref.values())]
    return missing


def test_every_public_name_is_in_the_reference():
    ref = reference()
    assert "autograd.Tensor" in ref and "autograd.nn.Linear" in ref, "the directive scan is broken"
    missing = missing_from(ref)
    assert missing == [], (
        "public names missing from the API reference (add them to a module's __all__ that a "
        f"docs/reference page renders, or a '::: path' line): {missing}"
    )


def test_a_name_the_reference_does_not_render_is_reported(monkeypatch):
    """The check above can fail: a name added to the package namespace only, or a new public
    module with no page, is reported."""
    def orphan() -> None:
        """Not rendered anywhere."""

    monkeypatch.setattr(ag, "orphan", orphan, raising=False)
    assert missing_from(reference()) == ["autograd.orphan"]

    real = public_modules()
    fresh = type(sys)("autograd.fresh")
    fresh.__all__ = []
    monkeypatch.setattr(sys.modules[__name__], "public_modules",
                        lambda: {**real, "autograd.fresh": fresh})
    assert missing_from(reference()) == ["autograd.orphan", "autograd.fresh (module)"]


def test_every_page_is_in_the_navigation():
    """mkdocs.yml's nav lists every page (strict mode also refuses a page outside it)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if "_ext" not in p.parts}
    assert {p for p in pages if f": {p}" not in nav} == set()


# ----------------------------------------------------------------------------- the built site
@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("AG_DOCS_SITE")
    if given:
        path = ROOT / given
        assert (path / "index.html").exists(), f"AG_DOCS_SITE={given}: no built site there"
        return path
    try:
        import mkdocs  # noqa: F401
    except ImportError:
        if os.environ.get("AG_REQUIRE_DOCS"):
            raise
        pytest.skip('MkDocs is not installed (pip install -e ".[docs]"), and AG_DOCS_SITE is unset')
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert run.returncode == 0, f"mkdocs build --strict failed:\n{run.stdout}\n{run.stderr}"
    return out


def _anchors(html_file: Path) -> set:
    return set(re.findall(r'\bid="([^"]+)"', html_file.read_text(encoding="utf-8")))


def test_the_built_site_renders_what_the_reference_pages_say(site):
    pages: dict = {}
    for page, path, options in directives():
        pages.setdefault(page, {}).update(rendered(path, options))
    assert pages
    for page, expected in pages.items():
        html_file = site / page.relative_to(DOCS).with_suffix(".html")
        absent = sorted(set(expected) - _anchors(html_file))
        assert absent == [], f"{html_file.name} lacks entries for {absent}"


def test_the_tensor_page_lists_every_method_the_ops_attach(site):
    from autograd import graph

    text = (site / "reference" / "tensor.html").read_text(encoding="utf-8")
    methods = {m for op in graph.REGISTRY.values() for m in op.methods if not m.startswith("_")}
    assert "softmax" in methods
    assert {m for m in methods if f"<code>{m}</code>" not in text} == set()


# ----------------------------------------------------------------------------- docs/api.md
_PREFIXES = {
    "ag": "autograd", "autograd": "autograd", "nn": "autograd.nn", "F": "autograd.nn.functional",
    "optim": "autograd.optim", "graph": "autograd.graph", "dist": "autograd.distributed",
}
_EXTERNAL = {"numpy", "np", "torch", "graphviz"}
# What a bare name in the contract may be: an attribute of one of these.
_BARE = [ag.Tensor, ag, ag.nn.functional, ag.nn, ag.nn.Module, ag.nn.init, ag.nn.utils, ag.optim,
         ag.optim.Optimizer, ag.optim.lr_scheduler, ag.functional, Function, FunctionCtx, ag.viz]
_OPERATORS = {
    "+": "__add__", "-": "__sub__", "*": "__mul__", "/": "__truediv__", "**": "__pow__",
    "@": "__matmul__", "<": "__lt__", "<=": "__le__", ">": "__gt__", ">=": "__ge__",
    "==": "__eq__", "!=": "__ne__", "&": "__and__", "|": "__or__", "^": "__xor__",
    "~": "__invert__",
}


def _contract_spans() -> list[tuple[int, str]]:
    """(line, text) of every inline code span of docs/api.md (fenced blocks are run instead)."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    text = re.sub(r"```.*?```", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return [(text.count("\n", 0, m.start()) + 1, " ".join(m.group(1).split()))
            for m in re.finditer(r"`([^`]+)`", text)]


def _parameter_names() -> set:
    """Every parameter name of a public callable (Tensor methods included)."""
    names: set = set()
    callables = [v for _, _, v in public_names() if callable(v)]
    callables += [getattr(ag.Tensor, n) for n in dir(ag.Tensor) if callable(getattr(ag.Tensor, n))]
    for c in callables:
        try:
            names |= set(inspect.signature(c).parameters)
        except (TypeError, ValueError):
            pass
    return names


def _candidates(dotted: str) -> list:
    """The objects a name in the contract may mean; [] if none exists; None if not ours."""
    head, _, rest = dotted.partition(".")
    if head in _EXTERNAL:
        return None
    if dotted.startswith("."):  # `.grad`: a Tensor attribute
        head, rest = "Tensor", dotted[1:]
    if head == "MyOp":  # the contract's example of a user's ag.Function subclass
        head = "Function"
    if (len(head) == 1 and head.islower() or head in ("Tensor", "ctx", "Function")) and rest:
        base = {"ctx": [FunctionCtx], "Function": [Function]}.get(head, [ag.Tensor])  # `x.exp()`
    elif head in _PREFIXES and rest:
        try:
            base = [resolve(_PREFIXES[head])]
        except ImportError:
            return []
    elif head in _PREFIXES or head == "Tensor":
        return [resolve(_PREFIXES.get(head, "autograd"))] if head != "Tensor" else [ag.Tensor]
    else:
        base, rest = _BARE + _public_classes(), dotted
    found = []
    for b in base:
        obj, ok = b, True
        for part in rest.split("."):
            if hasattr(obj, part):
                obj = getattr(obj, part)
            elif inspect.isclass(obj) and part in _instance_attributes(obj):
                obj = None  # set in __init__: nothing more to check about it
            else:
                ok = False
                break
        if ok:
            found.append(obj)
    return found


@functools.cache
def _public_classes() -> list:
    return [v for _, _, v in public_names() if inspect.isclass(v)]


@functools.cache
def _known_words() -> frozenset:
    """Words the package knows without an attribute to show for them: its string constants
    (buffer names such as ``"num_batches_tracked"``, the pieces of ``f"weight_ih_l{k}"``), the
    project's extras and dependencies, and Python's builtins."""
    words: set = set(dir(builtins))
    for path in (ROOT / "autograd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                words |= set(re.findall(r"\w+", node.value))
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    words |= set(re.findall(r"^(\w[\w-]*) = \[", pyproject, re.M))       # extras
    words |= set(re.findall(r'"([A-Za-z][\w.-]*?)[<>=~!\[;"]', pyproject))  # requirements
    return frozenset(words)


@functools.cache
def _instance_attributes(cls: type) -> frozenset:
    """Attributes a class's instances get that the class itself lacks: annotated ones, and those
    its methods assign as ``self.<name> = ...``."""
    names: set = set()
    for klass in cls.__mro__[:-1]:
        names |= set(getattr(klass, "__annotations__", {}))
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        names |= set(re.findall(r"\bself\.(\w+)\s*(?::[^=\n]*)?=[^=]", source))
    return frozenset(names)


def _expand(item: str) -> list[str]:
    """``F.max_pool1d/2d(...)`` and ``ag.tril/triu(...)``: one name per alternative."""
    m = re.match(r"^([\w.]+)((?:/\w+)+)(.*)$", item)
    if not m:
        return [item]
    base, alts, call = m.group(1), m.group(2).split("/")[1:], m.group(3)
    prefix, _, last = base.rpartition(".")
    prefix = prefix + "." if prefix else ""
    out = [base + call]
    for alt in alts:
        name = re.sub(r"\d\w*$", alt, last) if alt[0].isdigit() else alt
        out.append(prefix + name + call)
    return out


def _split(span: str) -> list[str]:
    """A span may list several names: ``exp log sqrt``, ``sigmoid, softmax(x, axis=-1)``."""
    items, depth, cur = [], 0, ""
    for ch in span:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and ch in ", ":
            items.append(cur)
            cur = ""
        else:
            cur += ch
    return [i for i in items + [cur] if i]


def contract_problems() -> list[str]:
    problems = []
    params = _parameter_names()
    for line, span in _contract_spans():
        where = f"docs/api.md:{line}: `{span}`"
        if re.fullmatch(r"[\w.-]+/[\w./-]+\.\w+", span):  # a path in the repository
            if not (ROOT / span).exists():
                problems.append(f"{where}: no such file")
            continue
        if re.fullmatch(r"\.(npz|npy|svg|png)", span) or re.fullmatch(r"'[^']*'", span):
            continue  # a file suffix, a string value
        if all(tok in _OPERATORS for tok in span.split()):
            problems += [f"{where}: Tensor has no {_OPERATORS[t]}" for t in span.split()
                         if not hasattr(ag.Tensor, _OPERATORS[t])]
            continue
        statement = re.fullmatch(r"(?:import|from) ([\w.]+).*", span)
        if statement:  # `import autograd.distributed as dist`: it imports
            try:
                importlib.import_module(statement.group(1))
            except ImportError as e:
                problems.append(f"{where}: {e}")
            continue
        pieces = [item for piece in _split(span) for item in _expand(piece)]
        if not all(re.fullmatch(r"\.?[A-Za-z_][\w.]*(\(.*\))?|\w+=.*", p) for p in pieces):
            continue  # prose or a shell command (`mpiexec -n 4 python train.py`), not names
        for item in pieces:
            problems += _check_item(where, item, params)
    return problems


def _check_item(where: str, item: str, params: set) -> list[str]:
    keyword = re.fullmatch(r"(\w+)=(.*)", item)
    if keyword:  # `dim=`, `correction=1`: some public function takes it
        return [] if keyword.group(1) in params else [f"{where}: no function takes {keyword.group(1)}="]
    m = re.fullmatch(r"(\.?[A-Za-z_][\w.]*?)\.?(\(.*\))?", item)
    if not m:
        return []  # an expression such as x[i]
    dotted, call = m.groups()
    found = _candidates(dotted)
    if found is None:
        return []
    if not found and call == "()" and hasattr(builtins, dotted):  # len(), repr(): protocols
        found = [getattr(ag.Tensor, f"__{dotted}__")] if hasattr(ag.Tensor, f"__{dotted}__") else []
    if not found:
        bare = "." not in dotted.lstrip(".")
        word = dotted.lstrip(".")
        if bare and not call and (word in params or {word, word.rstrip("0123456789")} & _known_words()):
            return []  # a parameter (`axis`), a buffer or state_dict key, a builtin, an extra
        return [f"{where}: {item} names nothing in the package"]
    if not call:
        return []
    errors = [_call_mismatch(obj, call) for obj in found]
    if all(errors):
        return [f"{where}: {errors[0]}"]
    return []


def _call_mismatch(obj: object, call: str) -> str:
    """'' if every keyword of ``call`` is a parameter of ``obj`` with the stated default."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    try:
        node = ast.parse(f"f{call}", mode="eval").body
    except SyntaxError:
        return f"cannot read the call {call}"
    if not isinstance(node, ast.Call):
        return f"cannot read the call {call}"
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    for kw in node.keywords:
        p = sig.parameters.get(kw.arg)
        if p is None:
            if not takes_any:
                return f"{getattr(obj, '__qualname__', obj)}{sig} has no parameter {kw.arg}"
            continue
        if isinstance(kw.value, ast.Constant) and kw.value.value is Ellipsis:
            continue
        try:
            stated = ast.literal_eval(kw.value)
        except ValueError:
            continue
        if p.default is p.empty or p.default != stated:
            return f"{kw.arg} defaults to {p.default!r} in the code, {stated!r} in the contract"
    return ""


def test_every_name_in_the_contract_exists():
    assert len(_contract_spans()) > 100, "the span scan of docs/api.md is broken"
    assert contract_problems() == []


def test_a_name_that_drifted_from_the_contract_is_reported():
    """The check can fail: a renamed function, a keyword that is not a parameter, a default that
    changed, a file that moved."""
    params = _parameter_names()
    assert _check_item("w", "ag.no_such_function", params)
    assert _check_item("w", "nn.Linear(in_features, out_features, biased=True)", params)
    assert _check_item("w", "nn.Dropout(p=0.25)", params)
    assert _check_item("w", "frobnicate=", params)
    assert not _check_item("w", "nn.Dropout(p=0.5)", params)
    assert _expand("F.max_pool1d/2d(x)") == ["F.max_pool1d(x)", "F.max_pool2d(x)"]
    assert _expand("ag.tril/triu") == ["ag.tril", "ag.triu"]


# ----------------------------------------------------------------------------- runnable pages
_BLOCK = re.compile(r"^```python[^\n]*\n(.*?)^```", re.S | re.M)
_RUNNER = f"""
import re, sys
page, text = sys.argv[1], open(sys.argv[1], encoding="utf-8").read()
namespace = {{"__name__": "__main__"}}
for m in re.finditer({_BLOCK.pattern!r}, text, re.S | re.M):
    line = text.count("\\n", 0, m.start(1))
    exec(compile("\\n" * line + m.group(1), page, "exec"), namespace)
"""

PAGES = sorted(p for p in DOCS.rglob("*.md") if _BLOCK.search(p.read_text(encoding="utf-8")))


def test_the_guides_have_code_to_run():
    names = {p.relative_to(DOCS).as_posix() for p in PAGES}
    assert {"guides/custom-op.md", "guides/custom-module.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(DOCS).as_posix())
def test_every_python_block_runs(page, tmp_path):
    """The page's blocks run in order as one program, in a fresh interpreter (pages register ops
    of their own) and an empty folder (they may write files); a traceback names the page's line."""
    code = "".join(_BLOCK.findall(page.read_text(encoding="utf-8")))
    if "ag.viz." in code and not os.environ.get("AG_REQUIRE_RENDERER"):  # CI requires the extra
        pytest.importorskip("graphviz", reason="the page draws a graph: it needs the viz extra")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, "-W", "error", "-c", _RUNNER, str(page)],
                         cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, f"{page.relative_to(ROOT)} failed:\n{run.stderr[-3000:]}"


def test_the_index_gives_the_readme_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    for marker in ("demo-command", "test-command"):
        block = re.search(rf"<!-- {marker} -->\n```\n(.*?)\n```", readme, re.S)
        assert block, f"README.md has no {marker} block"
        assert block.group(1) in index, f"docs/index.md does not give the README's {marker}"
