"""Hostile scenario files (issue 15): each is refused with one clear problem, fast, in bounded memory.

Every case here crashed with a traceback, hung, or was accepted and fatal at run time before the
loader's limits (``gameday/scenario/limits.py``). ``HOSTILE_TEXTS`` and :func:`hostile_files` are
shared with the command-line test (``test_scenario_hostile_cli.py``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from gameday.errors import ScenarioError, ScenarioProblem
from gameday.scenario import load_scenario, parse_scenario
from gameday.scenario.limits import MAX_MESSAGE_CHARS

REPO = Path(__file__).parents[2]
BASE = (REPO / "scenarios" / "failover-primary-crash.yaml").read_text()
FAST_S = 2.0
"""Wall-clock bound for refusing any case below (they take milliseconds; the machine may be loaded)."""


def variant(old: str, new: str) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, 1)


def billion_laughs() -> str:
    """~340 bytes; nine levels of nine aliases each: 9**9 strings once expanded."""
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def billion_laughs_flow() -> str:
    """The same in one flow sequence: ``[&a [lol, …], &b [*a, …], …, &i [*h, …]]``."""
    levels = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    names = zip("abcdefgh", "bcdefghi", strict=True)
    levels += [f"&{name} [{', '.join([f'*{previous}'] * 9)}]" for previous, name in names]
    return f"[{', '.join(levels)}]"


def faults(count: int, fault: str = "{at: 1s, fault: kill, target: oms-primary}") -> str:
    return variant("timeline:\n", "timeline:\n" + f"  - {fault}\n" * count)


@dataclass(frozen=True)
class Hostile:
    name: str
    text: str
    where: str
    """the YAML path the one problem names (``""``: the whole file, or a line only)"""
    says: str
    """a fragment of its message"""


KILL = "{at: 8s, fault: kill, target: oms-primary, signal: SIGKILL}"
HOSTILE_TEXTS = [
    Hostile("billion-laughs", billion_laughs(), "", "expands to more than 200,000 nodes"),
    Hostile("billion-laughs-in-a-scenario",
            variant("postmortem:", f"x: {billion_laughs_flow()}\npostmortem:"), "",
            "expands to more than 200,000 nodes"),
    Hostile("too-many-aliases", variant("postmortem:", "x: [&one 1, " + ", ".join(["*one"] * 1001)
                                        + "]\npostmortem:"), "", "more than 1000 aliases"),
    Hostile("recursive-list", variant("symbols: [BTC-USD, ETH-USD]", "symbols: &s [BTC-USD, *s]"), "",
            "alias *s is inside the node &s it names"),
    Hostile("recursive-mapping", variant("stack:\n", "stack: &st\n  self: *st\n"), "",
            "alias *st is inside the node &st it names"),
    Hostile("deep-flow", variant("seed: 7", "seed: " + "[" * 100_000 + "]" * 100_000), "",
            "nested more than 32 levels deep"),
    Hostile("deep-block", BASE + "".join(f"{'  ' * level}k{level}:\n" for level in range(40)) + "  " * 40
            + "1\n", "", "nested more than 32 levels deep"),
    Hostile("seed-4301-digits", variant("seed: 7", "seed: " + "7" * 4301), "seed",
            "an integer of 4,301 digits; expected a 64-bit integer"),
    Hostile("bound-5000-digits", variant("orders.ghost: 0", "orders.ghost: {max: " + "9" * 5000 + "}"),
            'expect["orders.ghost"].max', "an integer of 5,000 digits"),
    Hostile("seed-beyond-64-bits", variant("seed: 7", "seed: 9223372036854775808"), "seed", "64-bit"),
    Hostile("sexagesimal-giant", variant("seed: 7", "seed: 1" + ":59" * 60), "seed", "64-bit"),
    Hostile("impossible-date", variant("seed: 7", "seed: 2026-13-45"), "seed",
            "cannot read '2026-13-45' as timestamp"),
    Hostile("tagged-int", variant("seed: 7", "seed: !!int abc"), "seed", "cannot read 'abc' as int"),
    Hostile("tagged-bool", variant("seed: 7", "seed: !!bool maybe"), "seed", "cannot read 'maybe' as bool"),
    Hostile("infinite-duration", variant("duration: 20s", "duration: .inf"), "workload.duration",
            "expected a finite duration of at most 24h, got inf"),
    Hostile("huge-duration", variant("duration: 20s", "duration: 1.0e+300"), "workload.duration",
            "expected a duration of at most 24h"),
    Hostile("huge-duration-text", variant("duration: 20s", "duration: 99999999999999999999999999h"),
            "workload.duration", "expected a duration of at most 24h"),
    Hostile("infinite-at", variant(KILL, KILL.replace("at: 8s", "at: .inf")), "timeline[0].at",
            "finite duration"),
    Hostile("pause-999999h", variant(KILL, "{at: 8s, fault: pause, target: oms-primary, for: 999999h}"),
            "timeline[0].for", "expected a duration of at most 24h, got '999999h'"),
    Hostile("pause-past-the-workload", variant(KILL, "{at: 8s, fault: pause, target: oms-primary, for: 13s}"),
            "timeline[0].for", "healed by the end of the workload (20s); it is healed at 21s: expected a for "
                               "of at most 12s"),
    Hostile("repeat-past-the-workload",
            variant(KILL, "{at: 2s, fault: pause, target: oms-primary, for: 3s, every: 4s, until: 20s}"),
            "timeline[0].for", "its last occurrence (at 18s) is healed at 21s"),
    Hostile("infinite-probe-interval", variant("trade_interval: 100ms", "trade_interval: .inf"),
            "probes.trade_interval", "finite duration"),
    Hostile("infinite-rto-bound", variant("rto.failover: {max: 10s}", "rto.failover: {max: .inf}"),
            'expect["rto.failover"].max', "finite duration"),
    Hostile("infinite-hold", variant("rto.failover: {max: 10s}", "rto.failover: {max: 10s, hold: .inf}"),
            'expect["rto.failover"].hold', "finite duration"),
    Hostile("nan-count-bound", variant("orders.ghost: 0", "orders.ghost: {max: .nan}"),
            'expect["orders.ghost"].max', "expected a finite number (count)"),
    Hostile("infinite-rate", variant("orders_per_second: 50", "orders_per_second: .inf"),
            "workload.orders_per_second", "finite number"),
    Hostile("astronomical-rate", variant("orders_per_second: 50", "orders_per_second: 1.0e+12"),
            "workload.orders_per_second", "less than or equal to 10000"),
    Hostile("infinite-burst", variant("  market_order_ratio: 0.3\n", "  market_order_ratio: 0.3\n  bursts:\n"
                                      "    - {at: 5s, for: 1s, orders_per_second: .inf}\n"),
            "workload.bursts[0].orders_per_second", "finite number"),
    Hostile("burst-past-the-workload",
            variant("  market_order_ratio: 0.3\n", "  market_order_ratio: 0.3\n  bursts:\n"
                    "    - {at: 15s, for: 23h, orders_per_second: 10}\n"),
            "workload.bursts[0].for", "expected the burst to end by the end of the workload (20s)"),
    Hostile("huge-latency", variant(KILL, "{at: 8s, fault: latency, proxy: oms-primary->exchange, "
                                          "latency_ms: 1000000000000, for: 1s}"),
            "timeline[0].latency_ms", "less than or equal to 86400000"),
    Hostile("repeats-beyond-10000", faults(11, "{at: 1s, fault: pause, target: oms-primary, for: 1ms, "
                                               "every: 2ms, count: 1000}"),
            "timeline", "expected at most 10,000 fault occurrences (each repeat counted as its occurrences), "
                        "got 11,001"),
    Hostile("raw-nul", variant("seed: 7", "seed: 7\x00"), "", "unacceptable character #x0000"),
    Hostile("raw-escape", variant("seed: 7", "seed: 7\x1b[2J"), "", "unacceptable character #x001b"),
    Hostile("escaped-control-characters", variant("name: failover-primary-crash",
                                                  'name: "a\\x00\\x1b[31m[/]\\u202e"'),
            "name", "got 'a\\x00\\x1b[31m[/]\\u202e'"),
    Hostile("control-characters-in-a-key", variant("stack:\n", 'stack:\n  "\\e[2J[/]\\0": 1\n'),
            'stack["\\u001b[2J[/]\\u0000"]', "unknown key"),
    Hostile("escaped-surrogates", variant("name: failover-primary-crash", 'name: "\\ud800\\udc00"'),
            "name", "an escaped surrogate (\\ud800-\\udfff) is half of a UTF-16 pair"),
    Hostile("escaped-surrogate-in-a-list", variant("seed: 7", 'seed: 7\ntags: ["ok", "\\udfff"]'),
            "tags[1]", "an escaped surrogate"),
    Hostile("text-over-1-mib", BASE + "#" * (1 << 20), "", "expected at most 1,048,576"),
    Hostile("a-huge-value", variant("name: failover-primary-crash", "name: " + "X" * 200_000), "name",
            "… (200,002 characters)"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", HOSTILE_TEXTS, ids=lambda case: case.name)
def test_a_hostile_text_is_refused_with_one_located_problem_fast(case: Hostile) -> None:
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(case.text, file="hostile.yaml")
    elapsed = time.perf_counter() - started

    [problem] = raised.value.problems
    assert (problem.yaml_path, case.says in problem.message) == (case.where, True), problem.message
    _assert_one_printable_line(str(raised.value))
    assert elapsed < FAST_S


@pytest.mark.timeout(60)
def test_a_timeline_beyond_10000_faults_is_refused_before_they_are_validated() -> None:
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as raised:
        parse_scenario(faults(10_001), file="hostile.yaml")

    [problem] = raised.value.problems
    assert (problem.yaml_path, problem.message) == ("timeline", "expected at most 10,000 faults, got 10,002")
    assert time.perf_counter() - started < 10 * FAST_S  # ~450 KB of YAML to parse first


def test_every_problem_is_printable_and_bounded_and_at_most_100_are_listed() -> None:
    text = variant("stack:\n", "stack:\n" + "".join(f'  "k{index}\\e": 1\n' for index in range(500)))

    with pytest.raises(ScenarioError) as raised:
        parse_scenario(text, file="hostile.yaml")

    problems = raised.value.problems
    assert len(problems) == 100
    assert problems[-1] == ScenarioProblem("hostile.yaml", None, "",
                                           "and 401 more problems (only the first 99 are listed)")
    assert problems[0].yaml_path == 'stack["k0\\u001b"]'
    assert all(len(problem.message) <= MAX_MESSAGE_CHARS + 30 for problem in problems)
    assert str(raised.value).isascii()


def test_the_limits_keep_the_catalog_and_the_largest_allowed_values_valid() -> None:
    text = variant("duration: 20s", "duration: 24h")
    text = text.replace("orders_per_second: 50", "orders_per_second: 10000")
    text = text.replace(KILL, "{at: 8s, fault: pause, target: oms-primary, for: 1s, every: 2s, count: 1000}")
    text = text.replace("seed: 7", "seed: 9223372036854775807")

    scenario = parse_scenario(text)

    assert (scenario.workload.duration.seconds, scenario.workload.orders_per_second) == (86_400, 10_000)
    assert scenario.seed == 2**63 - 1
    catalog = [*(REPO / "scenarios").glob("*.yaml"), *(REPO / "bench" / "scenarios").glob("*.yaml")]
    assert len(catalog) > 20
    for path in catalog:
        load_scenario(path)


def _assert_one_printable_line(text: str) -> None:
    assert "\n" not in text
    assert text.isprintable(), repr(text)


# -- files: only a regular file of at most 1 MiB is read, and nothing blocks ------------------------


def _fifo(directory: Path) -> Path:
    path = directory / "fifo.yaml"
    os.mkfifo(path)
    return path


def _symlink_to_dev_zero(directory: Path) -> Path:
    path = directory / "zero.yaml"
    path.symlink_to("/dev/zero")
    return path


def _write(name: str, content: str | bytes) -> Callable[[Path], Path]:
    def make(directory: Path) -> Path:
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path
    return make


HOSTILE_FILES: list[tuple[str, Callable[[Path], Path], str]] = [
    ("fifo", _fifo, "cannot read the file: expected a regular file, got a FIFO (named pipe)"),
    ("dev-zero", lambda directory: Path("/dev/zero"), "expected a regular file, got a character device"),
    ("symlink-to-dev-zero", _symlink_to_dev_zero, "expected a regular file, got a character device"),
    ("directory", lambda directory: directory, "expected a regular file, got a directory"),
    ("two-mebibytes", _write("big.yaml", BASE + "#" + "x" * (2 << 20) + "\n"),
     "the file is 2.0 MiB; expected at most 1.0 MiB"),
    ("100000-faults", _write("faults.yaml", faults(100_000)),
     "the file is 4.5 MiB; expected at most 1.0 MiB"),
    ("not-utf-8", _write("latin1.yaml", BASE.encode().replace(b"seed: 7", b"seed: \xff7")),
     "expected UTF-8 text: invalid start byte at byte"),
]


def hostile_files(directory: Path) -> list[tuple[str, Path, str]]:
    """(name, path, message fragment) of each hostile file, made in ``directory``."""
    return [(name, make(directory), says) for name, make, says in HOSTILE_FILES]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("make", "says"), [(make, says) for _, make, says in HOSTILE_FILES],
                         ids=[name for name, _, _ in HOSTILE_FILES])
def test_only_a_regular_file_of_at_most_1_mib_is_read_and_nothing_blocks(
        tmp_path: Path, make: Callable[[Path], Path], says: str) -> None:
    path = make(tmp_path)
    started = time.perf_counter()
    with pytest.raises(ScenarioError) as raised:
        load_scenario(path)

    [problem] = raised.value.problems
    assert (problem.file, problem.line, problem.yaml_path) == (str(path), None, "")
    assert says in problem.message
    assert time.perf_counter() - started < FAST_S
