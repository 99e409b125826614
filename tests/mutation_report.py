"""The report of ``make mutate``: mutmut's results against the accepted survivors.

    python -m tests.mutation_report [--mutmut PATH] [--workdir DIR] [--accepted FILE]

Reads what ``mutmut run`` left in ``mutants/`` (of ``--workdir``, the project by default;
``make mutate-adapters`` runs in ``.local/mutate-adapters`` with
``tests/mutants-accepted-adapters.toml``) through mutmut's own commands (``results`` for
each mutant's status, ``show`` for a survivor's change), prints the count by status and the
score: mutants killed (a timeout counts, the tests did not pass) over every mutant made, those
in functions no selected test calls ("no tests") included; those functions are listed.

Each survivor is either killed by a new test or listed with the reason no test should kill it
in ``tests/mutants-accepted.toml``, named by its function and the line it changed: mutmut
numbers a function's mutants afresh whenever the function changes; the changed line stays.
One kind is accepted as a whole, with one reason, in the file's ``[wording]`` table: a mutant
that changes only the words of a message (a string literal made upper or lower case, wrapped
in ``XX``, or replaced by ``None`` in an error's call), which the tests deliberately do not pin.
Exit 1 when a survivor is not accepted, or a listed one no longer survives (the list stays
true); 2 when mutmut has no results.
"""

from __future__ import annotations

import argparse
import re
import subprocess  # nosec B404 - runs the venv's mutmut on the project's own results
import sys
import tomllib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACCEPTED = ROOT / "tests" / "mutants-accepted.toml"
DEFAULT_MUTMUT = Path(sys.executable).with_name("mutmut")
KILLED = frozenset({"killed", "timeout", "caught by type check"})
NOT_RUN = frozenset({"skipped", "not checked", "check was interrupted by user"})
_RESULT = re.compile(r"^\s+(?P<name>\S+): (?P<status>.+)$")
_NUMBER = re.compile(r"__mutmut_\d+$")


@dataclass(frozen=True, slots=True, order=True)
class Survivor:
    function: str  # mutmut's name for it, without the mutant's number
    removed: str  # the original line(s), stripped
    added: str  # the mutant's line(s), stripped


def statuses(mutmut: Path, workdir: Path = ROOT) -> dict[str, str]:
    listed = _run(mutmut, "results", "--all", "true", cwd=workdir)
    found = (_RESULT.match(line) for line in listed.splitlines())
    return {match["name"]: match["status"] for match in found if match}


def survivor(mutmut: Path, name: str, workdir: Path = ROOT) -> Survivor:
    diff = _run(mutmut, "show", name, cwd=workdir).splitlines()
    removed = [
        line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")
    ]
    added = [
        line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")
    ]
    return Survivor(_NUMBER.sub("", name), "\n".join(removed), "\n".join(added))


def accepted(path: Path = ACCEPTED) -> dict[Survivor, str]:
    entries = tomllib.loads(path.read_text()).get("survivor", [])
    return {Survivor(e["function"], e["removed"], e["added"]): e["reason"] for e in entries}


def wording_reason(path: Path = ACCEPTED) -> str | None:
    """The reason given for accepting every wording-only mutant, if the file accepts them."""
    table = tomllib.loads(path.read_text()).get("wording")
    return str(table["reason"]) if table else None


_STRING = re.compile(r"""(?<!\w)[rbfu]{0,2}("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", re.IGNORECASE)
_ERROR_LINE = re.compile(r"^raise\b|Error\(")
# An error's detail on its own line, its context values after it: `"No such order.", id=...`.
# The line above (the raise) is not in the diff: the literal must read as a sentence (it has a
# space), which a key or a name passed first to some other call does not.
_CONTEXT_AFTER = re.compile(r",\s*\w+=")


def only_wording(entry: Survivor) -> bool:
    """The mutant changes a message's words and nothing else: the line raises or builds an error,
    or is an error's detail on its own line with keyword context values after it, and the change
    lies inside its first string literal (the detail, not a context value), or that literal
    became ``None``; or the line is string literals alone (a message continued on its own line)
    and only their words changed."""
    removed, added = entry.removed, entry.added
    literals = list(_STRING.finditer(removed))
    if removed == added or "\n" in removed or not literals:
        return False
    first = literals[0]
    detail_first = (
        first.start() == 0
        and " " in first.group()
        and _CONTEXT_AFTER.match(removed, first.end()) is not None
    )
    if _ERROR_LINE.search(removed) or detail_first:
        head, tail = removed[: first.start()], removed[first.end() :]
        if added == f"{head}None{tail}":
            return True
        changed = _STRING.match(added, first.start())
        if changed is None:
            return False
        return added[changed.end() :] == tail and added[: first.start()] == head
    if _STRING.sub("", removed).strip(" ,)") != "":
        return False
    return _STRING.sub('""', removed) == _STRING.sub('""', added) or added.strip(" ,)") == "None"


def _run(mutmut: Path, *args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(  # noqa: S603 - fixed arguments  # nosec B603
        [str(mutmut), *args], cwd=cwd, capture_output=True, text=True, check=True
    )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mutmut", type=Path, default=DEFAULT_MUTMUT)
    parser.add_argument("--workdir", type=Path, default=ROOT, help="where mutmut ran")
    parser.add_argument("--accepted", type=Path, default=ACCEPTED, help="the accepted survivors")
    args = parser.parse_args(argv)
    workdir: Path = args.workdir.resolve()
    by_name = statuses(args.mutmut, workdir)
    if not by_name:
        sys.stderr.write(f"no mutmut results in {workdir}: run mutmut there first\n")
        return 2
    counts = Counter(by_name.values())
    ran = sum(n for status, n in counts.items() if status not in NOT_RUN)
    killed = sum(n for status, n in counts.items() if status in KILLED)
    lines = [f"{status:>20}: {n}" for status, n in sorted(counts.items())]
    lines.append(f"score: {killed}/{ran} killed ({100 * killed / max(ran, 1):.1f}%)")
    untested = Counter(_NUMBER.sub("", n) for n, s in by_name.items() if s == "no tests")
    if untested:
        lines.append("\nno selected test calls (their mutants count as not killed):")
        lines += [f"{n:>5}  {function}" for function, n in untested.most_common()]
    survived = [n for n, s in by_name.items() if s == "survived"]
    # One `mutmut show` a survivor, a second or so each: several at once.
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = pool.map(lambda name: survivor(args.mutmut, name, workdir), survived)
        survivors = dict(zip(found, survived, strict=True))
    listed = accepted(args.accepted)
    wording = {entry for entry in survivors if entry not in listed and only_wording(entry)}
    if wording and wording_reason(args.accepted) is None:
        wording = set()  # the file does not accept them: each is reported below
    new = sorted(set(survivors) - set(listed) - wording)
    gone = sorted(set(listed) - set(survivors))
    for entry in new:
        name = survivors[entry]
        lines += [f"\nsurvived, not accepted: {name} (mutmut show {name})", _change(entry)]
    for entry in gone:
        lines += [f"\naccepted, no longer survives (remove it): {entry.function}", _change(entry)]
    lines.append(
        f"\n{len(survivors)} survived: {len(wording)} change only a message's words "
        f"(accepted as a kind), {len(survivors) - len(new) - len(wording)} listed with a reason, "
        f"{len(new)} not accepted"
    )
    sys.stdout.write("\n".join(lines) + "\n")
    return 1 if new or gone else 0


def _change(entry: Survivor) -> str:
    return f"  - {entry.removed}\n  + {entry.added}"


if __name__ == "__main__":
    sys.exit(main())
