"""`pytest-evalscope eval ...`: EvalScope's `evalscope eval` flags, run as a pytest session.
`pytest-evalscope perf ...`: EvalScope's `evalscope perf` flags (see :mod:`pytest_evalscope.perf.cli`).
`pytest-evalscope service ...`: the HTTP service (see :mod:`pytest_evalscope.service`).
`pytest-evalscope view RUN [RUN...]`: the HTML report of outputs folders (see :mod:`pytest_evalscope.reporting.html`).
`pytest-evalscope compare BASE CANDIDATE`: two finished runs compared sample by sample, offline
(see :mod:`pytest_evalscope.reporting.compare`).
`pytest-evalscope merge OUT SHARD_DIR...`: the parts of a sharded run as one run (see :mod:`pytest_evalscope.shards.merge`).

Everything after `--` goes to pytest unchanged (`-n 4`, `--junitxml=results.xml`, `-k main`, ...).
The exit status is the session's: 0 all gates met, 1 a gate missed or errors over budget, 4 bad input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pytest

from .api import run_session, session_args, suite_files
from .params import BOOL_PARAMS, PARAMS, ConfigError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pytest-evalscope", description="LLM evaluation as pytest sessions")
    commands = parser.add_subparsers(dest="command", required=True)
    evaluate = commands.add_parser("eval", help="evaluate a model on benchmarks",
                                   epilog="arguments after -- go to pytest, e.g. -- -n 4 --junitxml=results.xml")
    for param in PARAMS:
        flag = "--" + param.name.replace("_", "-")
        text = param.help.replace("%", "%%")  # argparse formats help with %: "95% interval" broke --help
        if param.name == "datasets":
            evaluate.add_argument(flag, nargs="+", default=None, help=text)
        elif param.name in BOOL_PARAMS:
            evaluate.add_argument(flag, action="store_const", const="true", default=None, help=text)
        elif param.repeatable:
            evaluate.add_argument(flag, action="append", default=None, help=text)
        elif param.cli:
            evaluate.add_argument(flag, default=None, help=text)
    evaluate.add_argument("--threshold", action="append", default=None, metavar="NAME=VALUE",
                          help="score gate, e.g. gsm8k=0.8 (repeatable)")
    evaluate.add_argument("--config", default=None, help="EvalScope TaskConfig YAML/JSON file")
    from .service.cli import add_service_parser

    add_service_parser(commands)
    from .reporting.html.view import add_view_parser

    add_view_parser(commands)
    from .reporting.compare import add_compare_parser

    add_compare_parser(commands)
    from .shards.merge import add_merge_parser

    add_merge_parser(commands)
    commands.add_parser("perf", add_help=False, help="load-test a model server (EvalScope's `evalscope perf`); "
                        "see pytest-evalscope perf --help")
    return parser


def eval_args(ns: argparse.Namespace, passthrough: Sequence[str]) -> list[str]:
    from .config import load_config_file

    datasets = ns.datasets or (load_config_file(ns.config).get("datasets") if ns.config else None) or []
    options = []
    for param in PARAMS:
        value = getattr(ns, param.name, None)
        if value is None or param.name == "datasets":
            continue
        for one in value if param.repeatable else [value]:
            options.append(f"--evalscope-{param.name.replace('_', '-')}" + ("" if param.name in BOOL_PARAMS else f"={one}"))
    if datasets:
        options.append(f"--evalscope-datasets={','.join(datasets)}")
    options += [f"--evalscope-threshold={t}" for t in ns.threshold or []]
    if ns.config:
        options.append(f"--evalscope-config={ns.config}")
    files = None if datasets else _backend_files(ns)
    return session_args(files if files is not None else suite_files(list(datasets)), [*options, *passthrough])


def _backend_files(ns: argparse.Namespace) -> list[str] | None:
    """The suites an eval_backend config runs (its native plan's), every suite file when it is delegated
    (none collects: the backend's item runs instead), or None without eval_backend."""
    from .api import suites_dir
    from .backends_config import Delegation, plan_for
    from .config import load_config_file

    raw = dict(load_config_file(ns.config)) if ns.config else {}
    raw.update({k: getattr(ns, k) for k in ("eval_backend", "eval_config") if getattr(ns, k, None) is not None})
    if not raw.get("eval_backend"):
        return None
    merged, plan = plan_for(raw)
    return [str(suites_dir())] if isinstance(plan, Delegation) else suite_files(list(merged.get("datasets") or []))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["perf"]:  # its own parser: EvalScope's perf flags, one-line errors
        from .perf.cli import main as perf_main

        return perf_main(argv[1:])
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    ns = build_parser().parse_args(argv)
    if ns.command == "service":
        from .service.cli import service_main

        return service_main(ns)
    if ns.command == "compare":
        from .reporting.compare import compare_main

        return compare_main(ns)
    if ns.command == "merge":
        from .shards.merge import merge_main

        return merge_main(ns, passthrough)
    if ns.command == "view":
        from .reporting.html.view import view_main

        return view_main(ns)
    try:
        args = eval_args(ns, passthrough)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return int(pytest.ExitCode.USAGE_ERROR)
    return run_session(args)


if __name__ == "__main__":
    sys.exit(main())
