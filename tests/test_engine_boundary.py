"""Only devtracker/engine/ touches private attributes of the libraries its PATCHES table names.

Every .py file of devtracker/ outside engine/ is read with `ast` and may not:
- import a private module of those libraries, or a private name from them;
- read or write `x._name` (or `getattr`/`setattr`/`hasattr`/`delattr` it by a string) where
  `_name` is a private name defined in the libraries' source;
- define or call (`self._name`, `super()._name`) a private member of a library class it subclasses.

A private name devtracker's own classes define for themselves (`self._lock` in a class of its
own, a method `_dispatch` that no library base defines) is theirs to use.
"""
import ast
import importlib
import importlib.util
import inspect
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "devtracker"
ENGINE = PACKAGE / "engine"
# The libraries of engine.PATCHES, by import name (Flask-SQLAlchemy's is flask_sqlalchemy).
LIBRARIES = ("eventlet", "gevent", "engineio", "socketio", "flask_socketio", "sqlalchemy",
             "flask_sqlalchemy")
ACCESSORS = {"getattr", "setattr", "hasattr", "delattr"}


def is_private(name):
    return name.startswith("_") and not name.startswith("__")


def is_library(qualified):
    return qualified.split(".")[0] in LIBRARIES


@lru_cache(maxsize=None)
def library_private_names():
    """Every private name the libraries' source defines: modules, functions, classes, attributes
    assigned (`self._x = ...`, `_X = ...`) and names imported under a private alias."""
    names = set()
    for library in LIBRARIES:
        root = Path(importlib.util.find_spec(library).origin).parent
        for path in root.rglob("*.py"):
            if is_private(path.stem):
                names.add(path.stem)
            try:
                tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    name = node.name
                elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                    name = node.attr
                elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    name = node.id
                elif isinstance(node, ast.alias):
                    name = (node.asname or node.name).split(".")[0]
                else:
                    continue
                if is_private(name):
                    names.add(name)
    return frozenset(names)


@lru_cache(maxsize=None)
def library_class_names(qualified):
    """The private names a library class and its library bases define (members, and attributes
    their methods assign on `self`); empty when it cannot be imported."""
    module_name, _, class_name = qualified.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError, ValueError):
        return frozenset()
    names = set()
    for base in inspect.getmro(cls) if inspect.isclass(cls) else ():
        if not is_library(getattr(base, "__module__", "") or ""):
            continue
        names.update(name for name in vars(base) if is_private(name))
        try:
            tree = ast.parse(inspect.getsource(base).lstrip())
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue
        names.update(node.attr for node in ast.walk(tree)
                     if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                     and is_private(node.attr))
    return frozenset(names)


class Module:
    """One devtracker source file: its imports (local name -> qualified) and its classes."""

    def __init__(self, path, root=ROOT):
        self.path = path.relative_to(root)
        parts = self.path.with_suffix("").parts
        self.name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        self.package = self.name if parts[-1] == "__init__" else self.name.rpartition(".")[0]
        self.tree = ast.parse(path.read_text(encoding="utf-8"))
        self.imports = {}
        self.classes = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        self.imports[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                base = self.absolute(node)
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
            elif isinstance(node, ast.ClassDef):
                self.classes[node.name] = node

    def absolute(self, node):
        if not node.level:
            return node.module or ""
        package = self.package.split(".")
        package = package[:len(package) - (node.level - 1)]
        return ".".join(package + ([node.module] if node.module else []))

    def qualify(self, expr):
        """The qualified name an expression (`Name`, `a.b.C`) refers to, or None."""
        if isinstance(expr, ast.Name):
            if expr.id in self.classes:
                return f"{self.name}.{expr.id}"
            return self.imports.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = self.qualify(expr.value)
            return f"{base}.{expr.attr}" if base else None
        return None


class Tree:
    """devtracker's modules outside engine/, and which of their classes derive from a library's."""

    def __init__(self, root=PACKAGE, skip=ENGINE):
        self.modules = {}
        for path in sorted(root.rglob("*.py")):
            if skip in path.parents:
                continue
            module = Module(path, root.parent)
            self.modules[module.name] = module

    def find_class(self, qualified, seen=()):
        """(module, ClassDef) of a devtracker class by qualified name, following re-exports."""
        module_name, _, name = qualified.rpartition(".")
        module = self.modules.get(module_name)
        if module is None or qualified in seen:
            return None
        if name in module.classes:
            return module, module.classes[name]
        target = module.imports.get(name)
        return self.find_class(target, seen + (qualified,)) if target else None

    def library_bases(self, module, node, seen=()):
        """The qualified names of the library classes a devtracker class derives from."""
        found = []
        for base in node.bases:
            qualified = module.qualify(base)
            if qualified is None or qualified in seen:
                continue
            if is_library(qualified):
                found.append(qualified)
            elif qualified.startswith("devtracker."):
                hit = self.find_class(qualified)
                if hit is not None:
                    found += self.library_bases(*hit, seen + (qualified,))
        return found

    def devtracker_bases(self, module, node, seen=()):
        """The devtracker class nodes a class derives from, itself first."""
        found = [node]
        for base in node.bases:
            qualified = module.qualify(base)
            if qualified and qualified.startswith("devtracker.") and qualified not in seen:
                hit = self.find_class(qualified)
                if hit is not None:
                    found += self.devtracker_bases(*hit, seen + (qualified,))
        return found


def members(node):
    """Private names a class defines for itself: methods, class attributes, `self._x = ...`."""
    names = set()
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(item.name)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name))
    for sub in ast.walk(node):
        if (isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Store)
                and isinstance(sub.value, ast.Name) and sub.value.id in ("self", "cls")):
            names.add(sub.attr)
    return {name for name in names if is_private(name)}


def violations(tree=None):
    """Where devtracker (outside engine/) touches a library's private name: [(file:line, what)]."""
    tree = tree or Tree()
    private = library_private_names()
    own = set()  # private names devtracker's classes define for themselves
    classes = {}  # ClassDef -> (module, private names of its library bases)
    for module in tree.modules.values():
        for node in module.classes.values():
            library = set()
            for qualified in tree.library_bases(module, node):
                library |= library_class_names(qualified)
            classes[node] = (module, frozenset(library))
            own |= members(node) - library
    found = []

    def report(module, node, what):
        found.append((f"{module.path}:{node.lineno}", what))

    for module in tree.modules.values():
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if is_library(alias.name) and any(is_private(p) for p in alias.name.split(".")):
                        report(module, node, f"import {alias.name}")
            elif isinstance(node, ast.ImportFrom):
                base = module.absolute(node)
                if is_library(base):
                    if any(is_private(p) for p in base.split(".")):
                        report(module, node, f"from {base} import ...")
                    for alias in node.names:
                        if is_private(alias.name):
                            report(module, node, f"from {base} import {alias.name}")
        for cls, (_, library) in classes.items():
            if classes[cls][0] is not module or not library:
                continue
            for item in cls.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in library:
                    report(module, item, f"{cls.name} overrides {item.name}")
        _check_accesses(module, tree, classes, private, own, report)
    return found


def _enclosing_classes(module_tree):
    """Map every node to the innermost ClassDef around it (None at module level)."""
    owner = {}

    def visit(node, cls):
        for child in ast.iter_child_nodes(node):
            owner[child] = cls
            visit(child, child if isinstance(child, ast.ClassDef) else cls)

    visit(module_tree, None)
    return owner


def _check_accesses(module, tree, classes, private, own, report):
    owner = _enclosing_classes(module.tree)
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Attribute):
            receiver, name = node.value, node.attr
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id in ACCESSORS and len(node.args) >= 2
              and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            receiver, name = node.args[0], node.args[1].value
        else:
            continue
        if not is_private(name):
            continue
        cls = owner.get(node)
        library = classes.get(cls, (None, frozenset()))[1] if cls is not None else frozenset()
        is_self = isinstance(receiver, ast.Name) and receiver.id in ("self", "cls")
        is_super = (isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name)
                    and receiver.func.id == "super")
        if is_self or is_super:
            if name in library:
                report(module, node, f"{'super()' if is_super else receiver.id}.{name} "
                                     f"(a private member of a library base of {cls.name})")
            elif is_super and name in private and name not in own:
                report(module, node, f"super().{name}")
            elif is_self and name in private and name not in own:
                report(module, node, f"{receiver.id}.{name}")
            continue
        qualified = module.qualify(receiver) if isinstance(receiver, (ast.Name, ast.Attribute)) else None
        if qualified is not None and is_library(qualified):
            report(module, node, f"{qualified}.{name}")
        elif qualified is not None and not qualified.startswith("devtracker") and qualified.split(".")[0] != "self":
            continue  # a module of the standard library or another package (sys._getframe)
        elif name in private and name not in own:
            report(module, node, f"{ast.unparse(receiver)}.{name}")


def test_scanner_finds_each_kind_of_access(tmp_path):
    """The checks catch what they are for, in a small package of their own."""
    package = tmp_path / "devtracker"
    (package / "engine").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "engine" / "__init__.py").write_text("import eventlet.wsgi\neventlet.wsgi.HttpProtocol._x = 1\n")
    (package / "bad.py").write_text(
        "import socketio\n"
        "from flask_socketio import _SocketIOMiddleware\n"
        "from engineio import socket as eio_socket\n"
        "class Mine:\n"
        "    def __init__(self):\n"
        "        self._lock = None\n"
        "    def go(self, server):\n"
        "        server._send_eio_packet(1, 2)\n"
        "        getattr(server, '_handle_event_internal')\n"
        "        eio_socket.Socket._websocket_handler = None\n"
        "        return self._lock\n"
        "class Client(socketio.Client):\n"
        "    def _handle_eio_message(self, data):\n"
        "        return super()._handle_eio_message(data)\n"
        "    def _mine(self):\n"
        "        return self._mine\n")
    found = [what for _, what in violations(Tree(package, package / "engine"))]
    assert "from flask_socketio import _SocketIOMiddleware" in found
    assert "server._send_eio_packet" in found
    assert "server._handle_event_internal" in found
    assert "engineio.socket.Socket._websocket_handler" in found
    assert "Client overrides _handle_eio_message" in found
    assert any(what.startswith("super()._handle_eio_message") for what in found)
    assert not any("_lock" in what or "_mine" in what for what in found), found
    assert not any("HttpProtocol" in what for what in found), "engine/ is allowed"


def test_nothing_outside_engine_touches_a_library_private_name():
    found = violations(Tree())
    assert not found, "private library names outside devtracker/engine/:\n" + "\n".join(
        f"  {where}: {what}" for where, what in found)

