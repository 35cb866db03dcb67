"""A Griffe extension for this project's reference pages (loaded by mkdocs.yml).

Three things the sources say in their own way, turned into what MkDocs renders:

* Sphinx-style roles (``:class:`Op```, ``:func:`~autograd.engine.grad```) become cross-references.
  A role naming nothing that exists fails the strict build; one naming an object that no page
  renders becomes plain code.
* Special members of classes (``__slots__``, ``__hash__``, ``__repr__``) are listed only when they
  have a docstring of their own (``Module.__call__`` has; ``__slots__`` has not).
* ``Tensor`` gets, at the end of its docstring, the table of the methods and operators that op
  registrations and the engine attach to it at import time (``graph.register``), which reading
  the source cannot see. The table is built from the imported package, so it lists every op a
  merge adds without an edit here.
"""
from __future__ import annotations

import functools
import html
import re
import sys
from pathlib import Path
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|data|mod|obj|exc):`(~?)([\w.]+)`")
_REPO = Path(__file__).resolve().parents[2]


class AutogradDocs(griffe.Extension):
    """See the module docstring."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if pkg.name != "autograd":
            return
        operators: set = set()  # Tensor's undocumented special methods, listed in the table
        for obj in _walk(pkg):
            if obj.is_class:  # removed, not marked private: aliases (`autograd.Tensor`) see it
                for name in [n for n, m in obj.members.items()
                             if m.is_special and n != "__init__" and not m.docstring]:
                    if obj.path == "autograd.tensor.Tensor" and name in _OPERATORS:
                        operators.add(name)
                    obj.del_member(name)
            if obj.docstring is not None:
                obj.docstring.value = _ROLE.sub(functools.partial(_crossref, obj, loader),
                                                obj.docstring.value)
        tensor = pkg.get_member("tensor").get_member("Tensor")
        if tensor.docstring is not None:
            tensor.docstring.value += "\n\n" + _attached_methods_table(operators)


def _walk(root: griffe.Object) -> Any:
    """Every object defined in the package (not aliases), iteratively."""
    stack = [root]
    while stack:
        obj = stack.pop()
        yield obj
        stack.extend(m for m in obj.members.values() if not m.is_alias)


def _crossref(obj: griffe.Object, loader: griffe.GriffeLoader, m: re.Match) -> str:
    role, short, name = m.groups()
    target = _find(obj, loader, name)
    shown = name.rsplit(".", 1)[-1] if short else name
    if role in ("func", "meth"):
        shown += "()"
    if target is None:
        griffe.logger.warning(
            f"{obj.relative_filepath}:{obj.lineno}: {obj.path}: the docstring's :{role}:`{name}` "
            f"names nothing that exists"
        )
        return f"`{shown}`"
    # `optional`: a link where some page renders the target, plain code where none does.
    return f'<autoref identifier="{html.escape(target)}" optional>`{shown}`</autoref>'


def _find(obj: griffe.Object, loader: griffe.GriffeLoader, name: str) -> str | None:
    """The path of the object that ``name`` names from ``obj``'s scope, or None."""
    candidates = []
    scope: Any = obj
    while scope is not None:  # the object's own members, its class's, its module's, ...
        candidates.append(f"{scope.path}.{name}")
        scope = scope.parent
    candidates.append(name)
    head = name.split(".", 1)[0]
    try:  # a name imported into the module (``memory.release`` where ``memory`` is imported)
        candidates.append(obj.resolve(head) + name[len(head):])
    except Exception:  # noqa: BLE001 - griffe raises NameResolutionError or KeyError
        pass
    for path in candidates:
        try:
            found = loader.modules_collection.get_member(path)
        except Exception:  # noqa: BLE001 - not found along this path
            continue
        if found is not None:
            return found.path
    return None


def _attached_methods_table(operators: set) -> str:
    """A Markdown table: each Tensor method or operator that exists only once the package is
    imported, and the function behind it (linked to its reference entry); and the ``operators``
    that tensor.py defines without a docstring of their own (``+=``, ``x[i] = v``)."""
    if str(_REPO) not in sys.path:
        sys.path.insert(0, str(_REPO))
    from autograd.tensor import Tensor  # the runtime class, as users get it

    static = _source_names()
    rows: dict[tuple[str, str], list[str]] = {}
    for name, value in sorted(vars(Tensor).items()):
        private = name.startswith("_") and not name.endswith("__")
        if (name in static and name not in operators) or not callable(value) or private:
            continue
        fn, note = value, ""
        if not _reachable(fn):  # a reflected operator (graph._reflected): the op it swaps
            inner = [c.cell_contents for c in fn.__closure__ or () if callable(c.cell_contents)]
            if inner:
                fn, note = inner[0], ", operands swapped"
        rows.setdefault((f"{fn.__module__}.{fn.__qualname__}", note), []).append(name)
    lines = [
        "**Methods and operators** attached at import (by each op's registration and by the "
        "engine), and operators without an entry of their own below, with the function each runs:",
        "",
        "| method or operator | runs |",
        "|---|---|",
    ]
    # Methods by name first, then operators.
    for (target, note), names in sorted(rows.items(), key=lambda r: (r[1][0] in _OPERATORS, r[1][0])):
        shown = ", ".join(f"`{_OPERATORS.get(n, n)}`" for n in names)
        lines.append(f'| {shown} | <autoref identifier="{target}" optional>`{target}`</autoref>{note} |')
    return "\n".join(lines)


def _reachable(fn: Any) -> bool:
    """Whether ``fn`` is what its module holds under its qualified name (so it has an entry)."""
    obj: Any = sys.modules.get(getattr(fn, "__module__", ""), None)
    for part in getattr(fn, "__qualname__", "<none>").split("."):
        obj = getattr(obj, part, None)
    return obj is fn


def _source_names() -> set:
    """The names tensor.py's ``class Tensor`` body defines: those the reference documents from
    the source already."""
    import ast

    tree = ast.parse((_REPO / "autograd" / "tensor.py").read_text(encoding="utf-8"))
    names: set = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "Tensor":
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names.add(item.name)
                elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                    targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                    names.update(t.id for t in targets if isinstance(t, ast.Name))
    return names


# How an operator is written, for the table.
_OPERATORS = {
    "__add__": "a + b", "__radd__": "2 + a", "__sub__": "a - b", "__rsub__": "2 - a",
    "__mul__": "a * b", "__rmul__": "2 * a", "__truediv__": "a / b", "__rtruediv__": "2 / a",
    "__pow__": "a ** b", "__rpow__": "2 ** a", "__matmul__": "a @ b", "__rmatmul__": "m @ a",
    "__neg__": "-a", "__abs__": "abs(a)", "__getitem__": "a[i]",
    "__lt__": "a < b", "__le__": "a <= b", "__gt__": "a > b", "__ge__": "a >= b",
    "__eq__": "a == b", "__ne__": "a != b", "__and__": "m & n", "__or__": "m | n",
    "__xor__": "m ^ n", "__invert__": "~m", "__rand__": "b & m", "__ror__": "b | m",
    "__rxor__": "b ^ m", "__iadd__": "a += b", "__isub__": "a -= b", "__imul__": "a *= b",
    "__itruediv__": "a /= b", "__ipow__": "a **= b", "__setitem__": "a[i] = v",
    "__len__": "len(a)", "__iter__": "iter(a)", "__bool__": "bool(a)", "__float__": "float(a)",
    "__int__": "int(a)", "__array__": "numpy.asarray(a)", "__repr__": "repr(a)",
}
