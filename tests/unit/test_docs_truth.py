"""The guide (docs/*.md) and the README stay true to the code.

Checked here, without services:

- the README's endpoint table lists every operation of the OpenAPI, and each of its rows is a
  route the app serves;
- the README's CLI table lists every command and option of ``python -m app``, and no other;
- every repository path a page names in backticks (``app/...``, ``tests/...``, ``loadtests/...``,
  ``charts/...``, ``k8s/...``, and bare ``name.py`` file names) exists;
- every project identifier a page names in backticks exists in app/, tests/ or loadtests/:
  ``CamelCase`` names (two humps or more, unless a third-party name on the allow-list below),
  ``Class.attr`` (the class, and the attribute on it or a base), ``snake_case()`` calls
  (functions and methods), ``app.<package>...`` module paths and ``path.py:name``;
- the lists chapters keep complete instead of counting: chapter 02's entrypoints, tree and
  use-case index, chapter 03's events and errors, chapter 06's OpenAPI tags, chapter 07's tables,
  chapter 08's tables that are not mapped, chapter 11's map of the export feature, chapter 13's
  tables of the unit and integration test modules, and every ``provide_all(...)`` quoted in full.

Text in fenced code blocks is not read: it shows code, shell sessions and output, which name
third-party APIs freely. The README's settings table has its own test (test_readme_settings.py).
"""

from __future__ import annotations

import argparse
import ast
import builtins
import importlib
import importlib.util
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fastapi import FastAPI

from app.bootstrap import cli
from app.bootstrap.api import create_app
from tests.conftest import build_settings

ROOT = Path(__file__).parents[2]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SOURCES = ("app", "tests", "loadtests")
PATH_ROOTS = ("app", "tests", "loadtests", "charts", "k8s")

# Names the guide may use that the project does not define: other libraries' classes and
# functions, Kubernetes values, SQL and PromQL functions. A name goes here only when it is not
# the project's own.
THIRD_PARTY = frozenset({
    # Python and its standard library
    "AsyncMock", "Decimal", "LogRecord", "NewType", "StrEnum", "ThreadPoolExecutor", "TypedDict",
    "create_autospec", "isoformat", "run_until_complete",
    # SQLAlchemy, asyncpg, Alembic
    "AsyncEngine", "AsyncSession", "ConnectionDoesNotExistError", "IntegrityError",
    "InterfaceError", "MetaData", "NullPool", "OperationalError", "QueryCanceledError", "QueuePool",
    "StaleDataError", "UniqueConstraint", "composite", "exec_driver_sql", "executemany",
    "fetchrow", "fetchval", "relationship", "select",
    # FastAPI, Starlette, Pydantic, uvicorn
    "BaseModel", "Depends", "FastAPI", "HTTPException", "OAuth2PasswordBearer",
    "ProxyHeadersMiddleware", "RequestValidationError",
    # Alembic's op.f(), asgi-lifespan
    "f", "LifespanManager",
    # Dishka
    "DishkaRoute", "FastapiProvider", "provide", "provide_all", "setup_dishka",
    # Celery, OpenTelemetry, Prometheus, Jinja, limits, Locust
    "CeleryInstrumentor", "SoftTimeLimitExceeded", "worker_main", "ExportTraceServiceRequest",
    "MultiProcessCollector", "MultiProcessValue", "labels", "set_exemplar", "PackageLoader",
    "StrictUndefined",
    "MovingWindowRateLimiter", "FastHttpUser", "LoadTestShape",
    # Kubernetes field values
    "ClusterIP", "IfNotPresent", "LoadBalancer", "NodePort", "RuntimeDefault", "ScheduleAnyway",
    "CrashLoopBackOff",
    # an HTTP header; SQL and PromQL functions (SQL types in capitals are never read as names)
    "RateLimit", "date_trunc", "hashtext", "numeric", "pg_sleep", "timezone", "varchar",
    "increase", "absent",
})  # fmt: skip

CAMEL = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][A-Za-z0-9]*)+$")
IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
CLASS_ATTR = re.compile(rf"^([A-Z][A-Za-z0-9]*)\.({IDENT})(?:\(.*\))?$")
CALL = re.compile(rf"^((?:{IDENT}\.)*)({IDENT})\((.*)\)$")
MODULE_PATH = re.compile(rf"^app(?:\.{IDENT})+$")
PATH = re.compile(r"(?<![\w./-])(?:app|tests|loadtests|charts|k8s)/[\w./{},<>*:-]*")
FILE_NAME = re.compile(r"^[\w-]+\.py$")
ROUTE = re.compile(r"^((?:GET|POST|PUT|PATCH|DELETE)(?:/(?:GET|POST|PUT|PATCH|DELETE))*) (\S+)")


def _report(title: str, problems: Sequence[object]) -> None:
    """Fail with every problem on a line of its own."""
    __tracebackhide__ = True
    if problems:
        raise AssertionError("\n".join([title, *(f"  {p}" for p in problems)]))


@dataclass(frozen=True)
class Span:
    page: str
    line: int
    text: str

    def __str__(self) -> str:
        return f"{self.page}:{self.line}: `{self.text}`"


def _spans() -> Iterator[Span]:
    """Every inline code span outside fenced blocks, with its page and line."""
    for page in PAGES:
        fenced = False
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if line.lstrip().startswith("```"):
                fenced = not fenced
                continue
            if not fenced:
                for text in re.findall(r"`([^`\n]+)`", line):
                    yield Span(page.relative_to(ROOT).as_posix(), number, text.strip())


@dataclass(frozen=True)
class Index:
    names: frozenset[str]  # classes, functions, methods, module and class attributes, tables
    attrs: dict[str, frozenset[str]]  # class name -> attributes (all classes of that name)
    bases: dict[str, frozenset[str]]  # class name -> base class names
    module_names: dict[str, frozenset[str]]  # repository path -> top-level names
    file_names: frozenset[str]  # base names of every file under the source roots
    app_classes: frozenset[str]  # the classes defined in app/


def _assigned(body: list[ast.stmt]) -> set[str]:
    """Names a module or class body assigns (not a function's locals)."""
    names: set[str] = set()
    for node in body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
    return names


def _class_attrs(node: ast.ClassDef) -> set[str]:
    attrs = _assigned(node.body)
    for item in ast.walk(node):  # and what its methods set on self
        if isinstance(item, ast.Attribute) and isinstance(item.ctx, ast.Store):
            attrs.add(item.attr)
    return attrs


@cache
def _index() -> Index:
    names: set[str] = set()
    attrs: dict[str, set[str]] = {}
    bases: dict[str, set[str]] = {}
    module_names: dict[str, frozenset[str]] = {}
    file_names: set[str] = set()
    app_classes: set[str] = set()
    for root in PATH_ROOTS:
        file_names |= {p.name for p in (ROOT / root).rglob("*") if p.is_file()}
    for root in SOURCES:
        for path in (ROOT / root).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            module_names[path.relative_to(ROOT).as_posix()] = frozenset(_assigned(tree.body))
            names |= _assigned(tree.body)
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    names.add(node.name)
                    if root == "app":
                        app_classes.add(node.name)
                    attrs.setdefault(node.name, set()).update(_class_attrs(node))
                    names |= attrs[node.name]
                    bases.setdefault(node.name, set()).update(
                        ast.unparse(b).rsplit(".", 1)[-1].split("[", 1)[0] for b in node.bases
                    )
                elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    names.add(node.name)
                elif (  # Table("orders", ...): a page may name a table as orders(id, ...)
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name)
                    and node.func.id == "Table"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    names.add(str(node.args[0].value))
    return Index(
        names=frozenset(names),
        attrs={k: frozenset(v) for k, v in attrs.items()},
        bases={k: frozenset(v) for k, v in bases.items()},
        module_names=module_names,
        file_names=frozenset(file_names),
        app_classes=frozenset(app_classes),
    )


def _has_attr(index: Index, cls: str, attr: str, seen: frozenset[str] = frozenset()) -> bool:
    if attr in index.attrs.get(cls, ()):
        return True
    return any(
        _has_attr(index, base, attr, seen | {cls})
        for base in index.bases.get(cls, ())
        if base not in seen and base in index.attrs
    )


def _known(name: str) -> bool:
    return name in _index().names or name in THIRD_PARTY or hasattr(builtins, name)


def _is_library(module: str) -> bool:
    """A top-level name that is a standard or installed library, not the project's."""
    if module in sys.stdlib_module_names:
        return True
    return module not in {"app", "tests", "loadtests"} and (
        importlib.util.find_spec(module) is not None
    )


def _module_path_exists(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module = ".".join(parts[:cut])
        try:
            if importlib.util.find_spec(module) is None:
                continue
        except ModuleNotFoundError:  # a name inside a module, not a submodule
            continue
        target: object = importlib.import_module(module)
        for attr in parts[cut:]:
            if not hasattr(target, attr):
                return False
            target = getattr(target, attr)
        return True
    return False


def _class_attr_problems(span: Span) -> list[str]:
    """`Class.attr` or `Class.method()`: the class, and the attribute on it or on a base."""
    index = _index()
    match = CLASS_ATTR.match(span.text)
    if not match:
        return []
    cls, attr = match.groups()
    if cls in THIRD_PARTY or not (CAMEL.match(cls) or cls in index.attrs):
        return []
    if cls not in index.attrs:
        return [f"{span}: no class {cls}"]
    return [] if _has_attr(index, cls, attr) else [f"{span}: {cls} has no attribute {attr}"]


def _call_problems(span: Span) -> list[str]:
    """`function()`, `obj.method(args)`: the function (unless a library's), and CamelCase args."""
    match = CALL.match(span.text)
    if not match or match.group(2).isupper():  # NUMERIC(14, 2) is SQL
        return []
    owner, function, arguments = match.groups()
    first = owner.split(".", 1)[0]
    library = bool(first) and _is_library(first)
    problems = []
    if not library and not _known(function) and not CLASS_ATTR.match(span.text):
        problems.append(f"{span}: no function or method {function}()")
    return problems + [
        f"{span}: no class or name {name}"
        for name in re.findall(rf"\b{IDENT}\b", arguments)
        if CAMEL.match(name) and not _known(name)
    ]


def identifier_problems(span: Span) -> list[str]:
    """Why a span names something the project does not have (empty when it is fine)."""
    text = span.text
    if CAMEL.match(text):
        return [] if _known(text) else [f"{span}: no class or name {text} in the project"]
    problems = _class_attr_problems(span) + _call_problems(span)
    if MODULE_PATH.match(text):
        package = text.split(".")[1]
        if (ROOT / "app" / package).is_dir() and not _module_path_exists(text):
            problems.append(f"{span}: no module or attribute {text}")
    return problems


def _expand(path: str) -> list[str]:
    if match := re.search(r"\{([^{}]*)\}", path):
        return [
            expanded
            for choice in match.group(1).split(",")
            for expanded in _expand(path[: match.start()] + choice + path[match.end() :])
        ]
    return [path]


def path_problems(span: Span) -> list[str]:
    problems: list[str] = []
    if FILE_NAME.match(span.text) and span.text not in _index().file_names:
        problems.append(f"{span}: no file named {span.text} in the repository")
    for found in PATH.findall(span.text):
        token = found.rstrip(".,:")
        if any(c in token for c in "<>*"):
            continue  # a pattern, not a path
        for path in _expand(token):
            file, _, name = path.partition(":")
            name = name.removesuffix("()").removeprefix(":").split("::", 1)[0]
            if not (ROOT / file).exists():
                problems.append(f"{span}: {file} does not exist")
            elif name and name not in _index().module_names.get(file, ()):
                problems.append(f"{span}: {file} defines no {name}")
    return problems


def test_every_path_a_page_names_exists() -> None:
    _report("stale paths in the guide:", [p for span in _spans() for p in path_problems(span)])


def test_every_project_identifier_a_page_names_exists() -> None:
    problems = [p for span in _spans() for p in identifier_problems(span)]
    _report("names the code does not have (another library's? add it to THIRD_PARTY):", problems)


def test_the_allow_list_holds_no_name_of_the_project() -> None:
    assert not THIRD_PARTY & _index().names


def test_the_rules_catch_what_they_are_for() -> None:
    stale = [
        Span("x.md", 1, text)
        for text in (
            "OrderExportService",
            "SqlaOrderReader.no_such_method()",
            "no_such_function()",
            "provide_all(PlaceOrder, NoSuchInteractor)",
            "app.ordering.no_such_module",
        )
    ]
    assert all(identifier_problems(span) for span in stale)
    fine = [
        "SqlaOrderReader",
        "SqlaOrderReader.sales()",
        "AsyncSession",
        "KeyError",
        "gc.collect()",
    ]
    assert not [p for text in fine for p in identifier_problems(Span("x.md", 1, text))]
    assert path_problems(Span("x.md", 1, "app/ordering/no_such_file.py"))
    assert path_problems(Span("x.md", 1, "app/bootstrap/{api,nothing}.py"))
    assert not path_problems(Span("x.md", 1, "app/bootstrap/mapping.py:map_all()"))


# The README's endpoint table ----------------------------------------------------------------


def _readme_table(heading: str) -> list[list[str]]:
    """The rows (cells) of the first table under a README heading."""
    section = (ROOT / "README.md").read_text().split(f"\n## {heading}\n", 1)[1]
    section = section.split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def _normalised(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def readme_routes(cell: str) -> set[tuple[str, str]]:
    """The (method, path) pairs of a cell such as ``GET /a/{id}``, ``/b`` or ``PUT`/`DELETE /x``.

    An item without a method takes the previous one's; ``.../tail`` appends to the previous
    path; ``/tail`` without ``/api/`` or ``/health/`` replaces as many trailing segments of the
    previous path as it has.
    """
    routes: set[tuple[str, str]] = set()
    pending: list[str] = []
    methods: list[str] = []
    path = ""
    for item in re.findall(r"`([^`]+)`", cell):
        if re.fullmatch(r"GET|POST|PUT|PATCH|DELETE", item):
            pending.append(item)
            continue
        if match := ROUTE.match(item):
            methods, pending, tail = pending + match.group(1).split("/"), [], match.group(2)
        else:
            tail = item
        if tail.startswith(".../"):
            path = path + tail[3:]
        elif tail.startswith(("/api/", "/health/", "/metrics")) or not path:
            path = tail
        else:
            keep = path.split("/")[: -(tail.count("/"))]
            path = "/".join(keep) + tail
        routes |= {(method, _normalised(path)) for method in methods}
    return routes


@cache
def _app() -> FastAPI:
    return create_app(build_settings("postgresql+asyncpg://nobody@127.0.0.1:1/none", "redis://x"))


def _served_routes() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """The OpenAPI's operations, and every route the app answers (probes and /metrics too)."""
    app = _app()
    documented = {
        (method.upper(), _normalised(path))
        for path, item in app.openapi()["paths"].items()
        for method in item
    }
    served = {
        (method, _normalised(str(getattr(route, "path", ""))))
        for route in app.routes
        for method in getattr(route, "methods", None) or ()
    }
    return documented, served | documented


def test_readme_endpoint_table_lists_every_operation_and_only_real_routes() -> None:
    rows = _readme_table("Endpoints")
    table = {route for row in rows for route in readme_routes(row[0])}
    documented, served = _served_routes()
    _report("operations missing from README's endpoint table", sorted(documented - table))
    _report("README's endpoint table lists routes the app lacks", sorted(table - served))


def test_chapter_06_names_every_openapi_tag() -> None:
    tags = {
        tag
        for item in _app().openapi()["paths"].values()
        for operation in item.values()
        for tag in operation.get("tags", [])
    }
    _report("tags missing from chapter 06:", sorted(tags - _named("docs/06-presentation-layer.md")))


def test_readme_route_cells_are_read_as_written() -> None:
    assert readme_routes("`PUT`/`DELETE /api/v1/users/{id}/roles/{role}`") == {
        ("PUT", "/api/v1/users/{}/roles/{}"),
        ("DELETE", "/api/v1/users/{}/roles/{}"),
    }
    assert readme_routes("`POST /api/v1/x/{id}/stock/restock`, `/stock/adjustments`") == {
        ("POST", "/api/v1/x/{}/stock/restock"),
        ("POST", "/api/v1/x/{}/stock/adjustments"),
    }
    assert readme_routes("`GET /api/v1/a`, `POST .../{id}/requeue`") == {
        ("GET", "/api/v1/a"),
        ("POST", "/api/v1/a/{}/requeue"),
    }


# The README's CLI table ---------------------------------------------------------------------


def _cli() -> dict[str, set[str]]:
    """Each command of python -m app, with its options and positional arguments."""
    commands = next(
        action
        for action in cli._parser()._actions
        if isinstance(action, argparse._SubParsersAction)
    )
    found: dict[str, set[str]] = {}
    for name, parser in commands.choices.items():
        found[name] = set()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            found[name] |= set(action.option_strings) or {action.dest}
    return found


def _cli_rows(page: str, heading: str) -> dict[str, str]:
    """Command -> its usage, from a table whose first cell reads `[python -m app ]cmd [...]`."""
    text = (ROOT / page).read_text()
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines()[1:]:
        if match := re.match(r"^\| `(?:python -m app )?([a-z][a-z-]*)([^`]*)`", line):
            rows[match.group(1)] = match.group(1) + match.group(2)
    return rows


def _check_cli_table(rows: dict[str, str]) -> list[str]:
    code = _cli()
    problems = [
        f"{command}: {'missing' if command in code else 'no such command'}"
        for command in sorted(set(code) ^ set(rows))
    ]
    for command, usage in rows.items():
        arguments = code.get(command, set())
        written = set(re.findall(r"--[a-z][a-z-]*", usage))
        options = {a for a in arguments if a.startswith("--")}
        problems += [f"{command}: {o} missing" for o in sorted(options - written)]
        problems += [f"{command}: no option {o}" for o in sorted(written - options)]
        problems += [
            f"{command}: {a} missing"
            for a in sorted(arguments - options - {*usage.split()})
            if f'"{a}"' not in usage
        ]
    return problems


def test_readme_cli_table_lists_every_command_and_option() -> None:
    _report("README's CLI table:", _check_cli_table(_cli_rows("README.md", "CLI")))


def test_chapter_02_entrypoints_list_every_command_and_option() -> None:
    rows = _cli_rows("docs/02-project-structure.md", "Entrypoints")
    _report("chapter 02's entrypoints:", _check_cli_table(rows))


# Lists a chapter keeps complete ---------------------------------------------------------------


def test_chapter_02_indexes_every_use_case() -> None:
    text = (ROOT / "docs/02-project-structure.md").read_text()
    index = text.split("\n## Finding a use case by name\n", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `[A-Za-z]+` \| `([^`]+)` \|", index, flags=re.MULTILINE))
    use_cases = {
        path.relative_to(ROOT).as_posix()
        for kind in ("commands", "queries")
        for path in (ROOT / "app").glob(f"*/application/{kind}/*.py")
        if path.name != "__init__.py"
    }
    _report("use cases missing from chapter 02's index:", sorted(use_cases - listed))
    _report("chapter 02's index names files that are not use cases:", sorted(listed - use_cases))


def _module_tables() -> dict[str, list[str]]:
    """Test folder -> the modules chapter 13's table for it names, row by row."""
    text = (ROOT / "docs/13-testing.md").read_text()
    integration = text.split("\n### What the integration modules cover\n", 1)[1]
    unit = text.split("\n## Unit tests with fakes\n", 1)[1]
    sections = {"integration": integration.split("\n#", 1)[0], "unit": unit.split("\n## ", 1)[0]}
    return {
        folder: re.findall(r"^\| `([^`]+)` \|", section, flags=re.MULTILINE)
        for folder, section in sections.items()
    }


def test_chapter_13_tables_list_every_test_module() -> None:
    tables = _module_tables()
    assert "test_sign_up.py" in tables["integration"]  # the tables were read
    assert "test_money.py" in tables["unit"]
    problems: list[str] = []
    for folder, listed in tables.items():
        modules = {path.name for path in (ROOT / "tests" / folder).glob("test_*.py")}
        other = "unit" if folder == "integration" else "integration"
        problems += [f"tests/{folder}/{name} has no row" for name in sorted(modules - {*listed})]
        problems += [
            f"{folder} table: {name} is in tests/{other}"
            if (ROOT / "tests" / other / name).exists()
            else f"{folder} table: no module tests/{folder}/{name}"
            for name in sorted({*listed} - modules)
        ]
        problems += [
            f"{folder} table: {name} has two rows"
            for name in sorted({name for name in listed if listed.count(name) > 1})
        ]
    _report("chapter 13's tables of test modules:", problems)


def test_chapter_11_maps_every_file_of_the_export_feature() -> None:
    text = (ROOT / "docs/11-async-tasks.md").read_text()
    table = text.split("\n### The feature, file by file\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^\| \w+ \| `([^`]+)` \|", table, flags=re.MULTILINE))
    files = {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "app" / "ordering").rglob("*export*.py")
    }
    assert "app/ordering/domain/order_export.py" in listed  # the table was read
    _report("export files missing from chapter 11's map:", sorted(files - listed))
    _report("chapter 11's export map names files that do not exist:", sorted(listed - files))


def tree_paths(block: str) -> list[str]:
    """The paths of a `tree`-style listing (entries after ├── / └── at four columns a level)."""
    paths: list[str] = []
    stack: list[str] = []
    for line in block.splitlines():
        match = re.match(r"^((?:│   |    )*)(├── |└── )?([^\s#│]\S*)", line)
        if not match:
            continue
        prefix, mark, name = match.groups()
        stack = [*stack[: len(prefix) // 4 + (1 if mark else 0)], name]
        paths.append("".join(part.rstrip("/") + "/" for part in stack[:-1]) + name)
    return paths


def test_chapter_02_tree_names_only_files_that_exist() -> None:
    text = (ROOT / "docs/02-project-structure.md").read_text()
    paths = tree_paths(text.split("\n## The tree\n", 1)[1].split("```text\n", 1)[1].split("```")[0])
    assert "app/ordering/domain/order.py" in paths  # the listing was read
    _report("chapter 02's tree:", [p for p in paths if not (ROOT / p.rstrip("/")).exists()])


def _subclasses(root: str) -> set[str]:
    """Every class of app/ that derives from `root`, directly or not (by name)."""
    index, found, grown = _index(), {root}, True
    while grown:
        more = {name for name, bases in index.bases.items() if bases & found} - found
        found |= more
        grown = bool(more)
    return (found - {root}) & index.app_classes


def _named(page: str) -> set[str]:
    return {span.text for span in _spans() if span.page == page}


def test_chapter_03_names_every_domain_event_and_domain_error() -> None:
    named = _named("docs/03-domain-layer.md")
    bases = {base for bases in _index().bases.values() for base in bases}
    events = _subclasses("DomainEvent") - bases  # the events, not their context's base class
    errors = _subclasses("DomainError")
    _report("events missing from chapter 03:", sorted(events - named))
    _report("errors missing from chapter 03:", sorted(errors - named))


def _provided_together() -> list[frozenset[str]]:
    """The names each provide_all(...) of the composition root registers."""
    return [
        frozenset(a.id for a in node.args if isinstance(a, ast.Name))
        for path in (ROOT / "app/bootstrap/di").glob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "provide_all"
    ]


def test_a_provide_all_quoted_in_full_is_the_code_s() -> None:
    groups, problems = _provided_together(), []
    for span in _spans():
        if span.text.startswith("provide_all(") and "..." not in span.text:
            quoted = frozenset(re.findall(r"\b[A-Z][a-z][A-Za-z]*\b(?!\.)", span.text))
            if quoted and quoted not in groups:
                problems.append(f"{span}: no provide_all registers exactly these")
    _report("provide_all lists:", problems)


def _tables() -> tuple[set[str], set[str]]:
    """Every table of app/, and the ones a mapper maps (map_imperatively(Class, <table>))."""
    variables: dict[str, str] = {}
    mapped_variables: set[str] = set()
    for path in (ROOT / "app").rglob("*.py"):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", "") == "Table"
                and isinstance(node.value.args[0], ast.Constant)
            ):
                variables[ast.unparse(node.targets[0])] = str(node.value.args[0].value)
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "map_imperatively"
                and len(node.args) > 1
            ):
                mapped_variables.add(ast.unparse(node.args[1]))
    return set(variables.values()), {variables[v] for v in mapped_variables}


def test_chapter_08_lists_every_table_that_is_not_mapped() -> None:
    tables, mapped = _tables()
    assert {"users", "orders"} <= mapped  # the mappings were read
    text = (ROOT / "docs/08-orm.md").read_text()
    section = text.split("\n## Tables that are not mapped\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`([a-z_]+)`", section))
    _report("unmapped tables chapter 08 does not list:", sorted(tables - mapped - named))
    _report("mapped tables chapter 08 lists as unmapped:", sorted(mapped & named))


def test_chapter_07_lists_every_table() -> None:
    text = (ROOT / "docs/07-database.md").read_text()
    schema = text.split("\n## The schema\n", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z_]+)` \|", schema, flags=re.MULTILINE))
    tables, _ = _tables()
    _report("tables missing from chapter 07's schema:", sorted(tables - listed))
    _report("chapter 07's schema lists tables the code lacks:", sorted(listed - tables))
