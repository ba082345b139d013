"""`pytest-evalscope perf ...`: EvalScope's `evalscope perf` flags (dashes or underscores).

Exit status: 0 every SLO met, 1 an SLO missed or every request failed, 4 bad input (one line on
stderr).  With arguments after ``--`` the run happens as a pytest session instead (one item per SLO
and sweep point, so ``-- --junitxml=perf.xml`` puts the gates in JUnit XML).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import load_config_file
from ..params import ConfigError, did_you_mean
from .args import PERF_PARAMS, PerfArgs
from .gates import parse_slo

USAGE_ERROR = 4
SWITCHES = {"stream", "plots", "progress"}  # --x / --no-x


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ConfigError(message)


def _slo_type(text: str) -> Any:
    try:
        return parse_slo(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_perf_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or _Parser(prog="pytest-evalscope perf", description="load-test an OpenAI-compatible server",
                               epilog="arguments after -- run the perf as a pytest session, e.g. -- --junitxml=perf.xml")
    for param in PERF_PARAMS:
        flags = ["--" + param.name.replace("_", "-")] + (["--" + param.name] if "_" in param.name else [])
        kwargs: dict[str, Any] = {"dest": param.name, "default": None, "help": param.help}
        if param.name in SWITCHES:
            parser.add_argument(*flags, action=argparse.BooleanOptionalAction, **kwargs)
        elif param.flag:
            parser.add_argument(*flags, action="store_const", const=True, **kwargs)
        elif param.nargs == "append":
            parser.add_argument(*flags, action="append", type=_slo_type, **kwargs)
        elif param.nargs == "repeat":
            parser.add_argument(*flags, action="append", **kwargs)
        elif param.nargs:
            parser.add_argument(*flags, nargs=param.nargs, **kwargs)
        else:
            parser.add_argument(*flags, **kwargs)
    parser.add_argument("--config", default=None, help="YAML or JSON file of perf parameters (flags override it)")
    return parser


def load_config(path: str) -> dict[str, Any]:
    return load_config_file(path, "perf parameters")


def namespace_values(ns: argparse.Namespace) -> dict[str, Any]:
    values: dict[str, Any] = load_config(ns.config) if ns.config else {}
    for param in PERF_PARAMS:
        value = getattr(ns, param.name, None)
        if value is not None:
            values[param.name] = value
    return values


def parse_perf_args(argv: Sequence[str]) -> PerfArgs:
    parser = build_perf_parser()
    ns, unknown = parser.parse_known_args(list(argv))
    if unknown:
        flag = unknown[0].split("=")[0]
        known = [o for a in parser._actions for o in a.option_strings]
        raise ConfigError(f"unknown option {flag!r}{did_you_mean(flag, known)}; see pytest-evalscope perf --help")
    return PerfArgs.from_mapping(namespace_values(ns))


def _as_pytest(args: PerfArgs, passthrough: list[str]) -> int:
    import pytest

    spec = {**args.public(), "api_key": args.api_key, "headers": args.headers}
    with tempfile.TemporaryDirectory(prefix="evalscope-perf-") as tmp:
        path = Path(tmp, "perf_cli.json")
        path.write_text(json.dumps(spec))
        return int(pytest.main([str(path), "-p", "pytest_evalscope.perf.pytest_plugin", "-p", "no:cacheprovider",
                                f"--rootdir={tmp}", *passthrough]))


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    if any(a in ("-h", "--help") for a in argv):
        build_perf_parser().print_help()
        return 0
    try:
        args = parse_perf_args(argv)
        if passthrough:
            return _as_pytest(args, passthrough)
        from .api import run_perf

        result = run_perf(args)
    except ConfigError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return USAGE_ERROR
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
