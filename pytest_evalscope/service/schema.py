"""Request validation, the `/params` listings and the OpenAPI document, all generated from the two
parameter tables (:data:`pytest_evalscope.params.PARAMS` for eval, ``perf.args.PERF_PARAMS`` for perf)
so that what the service accepts, what it lists and what it documents cannot drift apart.

Validation runs in three steps and stops at the first problem, naming its field:
unknown key (with "did you mean") -> missing required field -> JSON type against the parameter's
schema -> the parameter's own parser (ranges, formats: its one-line ConfigError) -> cross-field
checks (TaskConfig / PerfArgs).  Paths that would write outside the service's output root are refused.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..params import INERT_KEYS, PARAMS, PARAMS_BY_NAME, ConfigError, did_you_mean

EVAL_REQUIRED = ("model", "datasets", "api_url")  # api_url only for the HTTP clients below
# eval_types that are HTTP clients of a server (chat, embeddings, rerank); every other one runs its model in
# the job (checkpoint, encoder: a local folder; mock) and needs no api_url
HTTP_BACKENDS = ("service", "openai_api", "server", "embedding", "openai_embedding", "rerank", "openai_rerank")
PERF_REQUIRED = ("model", "url")
# EvalScope's v1.4 perf endpoint takes `debug`; it changes nothing in the load test.
PERF_SERVICE_EXTRAS = {"debug": {"type": "boolean", "default": False,
                                 "description": "accepted for EvalScope compatibility; no effect"}}


class RequestError(Exception):
    """A request the service refuses; ``status`` is the HTTP status, ``field`` the offending key."""

    def __init__(self, message: str, field: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message.strip().splitlines()[0] if message.strip() else "invalid request"
        self.field = field
        self.status = status


# ---------------------------------------------------------------- JSON types

_JSON_TYPES: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool)
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


def _json_name(value: Any) -> str:
    for name in ("null", "boolean", "integer", "number", "string", "array", "object"):
        if _JSON_TYPES[name](value):
            return name
    return type(value).__name__


def check_type(name: str, value: Any, schema: Mapping[str, Any]) -> None:
    """The JSON-type part of a parameter's schema (ranges and formats are left to its parser)."""
    types = schema.get("type")
    if types is None:
        return
    allowed = [types] if isinstance(types, str) else list(types)
    if not any(_JSON_TYPES[t](value) for t in allowed):
        text = json.dumps(value, default=str)
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise RequestError(f"{name}: expected {' or '.join(allowed)}, got {_json_name(value)} {shown}", name)
    item_types = schema.get("items", {}).get("type")
    if isinstance(value, list) and item_types:
        for item in value:
            check_type(f"{name}[]", item, {"type": item_types})


def _parse(name: str, parse: Callable[[Any, str], Any], value: Any) -> Any:
    try:
        return parse(value, name)
    except RequestError:
        raise
    except (ConfigError, ValueError, TypeError, KeyError, OverflowError) as exc:
        text = str(exc) if isinstance(exc, ConfigError) else f"{name}: {exc}"
        raise RequestError(text, name) from None


def field_of(message: str, names: typing.Iterable[str]) -> str | None:
    """The parameter a cross-field ConfigError is about: the one its message starts with, else the first named."""
    names = sorted(names, key=len, reverse=True)
    head = message.split(":", 1)[0].split(" ", 1)[0]
    if head in names:
        return head
    return next((n for n in names if n in message), None)


def inside(path: Path, root: Path) -> bool:
    """Whether resolved `path` is `root` or lies under it."""
    return path == root or root in path.parents


def confine(value: Any, root: Path, name: str, must_exist: bool = False) -> Path:
    """`value` as a path inside `root` (relative paths are taken from root), else a 400."""
    path = Path(str(value)).expanduser()
    path = (path if path.is_absolute() else root / path).resolve()
    if not inside(path, root):
        raise RequestError(f"{name}: {str(value)!r} is outside the service's output root; give a path inside it", name)
    if must_exist and (path == root or path.parent.name == ".jobs" or ".jobs" in path.relative_to(root).parts[:1]
                       or not (path / "progress.json").is_file()):
        raise RequestError(f"{name}: {str(value)!r} is not the folder of an earlier run (a folder under the output "
                           "root holding progress.json)", name)
    return path


def _names_a_path(value: str) -> bool:
    """Whether a request value would be read from disk outside the job's own folder: absolute, from a
    home directory, or climbing out with "..". Anything else is a hub id or stays in the job folder."""
    return value.startswith(("/", "~", "\\")) or ".." in Path(value).parts or (len(value) > 1 and value[1] == ":")


def read_paths(body: Any, kind: str) -> list[tuple[str, str]]:
    """(field, value) for every value in a request body that names a file or folder the job would read."""
    if not isinstance(body, dict):
        return []
    found: list[tuple[str, Any]] = []
    if kind == "eval":
        found += [("dataset_dir", body.get("dataset_dir")), ("model", body.get("model")), ("baseline", body.get("baseline"))]
        template = body.get("chat_template")
        if isinstance(template, str) and "{{" not in template and "{%" not in template:
            found.append(("chat_template", template))
        model_args = body.get("model_args")
        if isinstance(model_args, dict):
            found += [(f"model_args.{k}", model_args.get(k)) for k in ("tokenizer", "chat_template", "gguf_file", "onnx")]
        dataset_args = body.get("dataset_args")
        if isinstance(dataset_args, dict):
            for name, args in dataset_args.items():
                if isinstance(args, dict):
                    found += [(f"dataset_args.{name}.{k}", args.get(k)) for k in ("local_path", "dataset_id")]
                    extra = args.get("extra_params") if isinstance(args.get("extra_params"), dict) else {}
                    found.append((f"dataset_args.{name}.extra_params.image_root", extra.get("image_root")))  # images
                    folders = extra.get("folders") if isinstance(extra.get("folders"), dict) else {}  # retrieval tasks
                    found += [(f"dataset_args.{name}.extra_params.folders.{task}", folder) for task, folder in folders.items()]
                    embeddings = extra.get("embeddings")  # ragas: a local model folder, unless it is an API
                    if isinstance(embeddings, dict) and embeddings.get("provider") in (None, "huggingface"):
                        found.append((f"dataset_args.{name}.extra_params.embeddings.model_name_or_path",
                                      embeddings.get("model_name_or_path")))
                    runs = extra.get("models") if isinstance(extra.get("models"), list) else []
                    found += [(f"dataset_args.{name}.extra_params.models", run.get("report_path"))  # general_arena
                              for run in runs if isinstance(run, dict)]
    else:
        found += [("dataset_path", body.get("dataset_path")), ("tokenizer_path", body.get("tokenizer_path"))]
    return [(name, value) for name, value in found if isinstance(value, str) and _names_a_path(value)]


# ---------------------------------------------------------------- eval


URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"


def eval_param_schemas() -> dict[str, dict[str, Any]]:
    from ..api import suites_dir

    schemas = {p.name: p.json_schema() for p in PARAMS}
    # what the service knows beyond the table: the suites it can run, and that URLs are http(s)
    suites = sorted(p.stem[len("eval_"):] for p in suites_dir().glob("eval_*.py"))
    schemas["datasets"]["items"] = {"type": "string", "enum": suites}
    schemas["api_url"]["pattern"] = URL_PATTERN  # one URL, or a fleet's list of them
    schemas["api_url"]["items"] = {"type": "string", "pattern": URL_PATTERN}
    for key in sorted(INERT_KEYS):
        schemas[key] = {"description": "accepted for EvalScope compatibility; no effect here"}
    return schemas


def _check_keys(body: Any, known: Mapping[str, Any], required: tuple[str, ...], what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise RequestError(f"the request body must be a JSON object of {what} parameters, got {_json_name(body)}")
    for key in body:
        if key not in known:
            raise RequestError(f"unknown key {key!r}{did_you_mean(str(key), list(known))}; "
                               f"see GET /api/v1/{what}/params", str(key))
    for name in required:
        if body.get(name) in (None, "", [], {}):
            raise RequestError(f"{name}: required (the {what} endpoint needs {', '.join(required)})", name)
    return dict(body)


def validate_eval(body: Any, root: Path) -> dict[str, Any]:
    """A checked TaskConfig mapping with the service's run folder set; raises RequestError."""
    from ..api import suite_files
    from ..config import TaskConfig

    schemas = eval_param_schemas()
    local = isinstance(body, dict) and body.get("eval_type") not in (None, *HTTP_BACKENDS)
    values = _check_keys(body, schemas, EVAL_REQUIRED[:2] if local else EVAL_REQUIRED, "eval")
    for key, value in values.items():
        if key in PARAMS_BY_NAME and value is not None:
            check_type(key, value, schemas[key])
            _parse(key, PARAMS_BY_NAME[key].parse, value)
    if values.get("work_dir") is not None:
        values["work_dir"] = str(confine(values["work_dir"], root, "work_dir"))
    if values.get("use_cache") is not None:
        values["use_cache"] = str(confine(values["use_cache"], root, "use_cache", must_exist=True))
    try:
        config = TaskConfig.from_layers([("request", values)], env={})
        if config.eval_type == "service":  # the client's settings, as the run will check them (headers too)
            from ..models.openai_api import check_generation_config, check_model_args

            check_model_args(config.model_args)
            check_generation_config(config.generation_config)
    except (ConfigError, ValueError, TypeError) as exc:
        raise RequestError(str(exc), field_of(str(exc), PARAMS_BY_NAME)) from None
    try:
        suite_files(config.datasets)
    except ConfigError as exc:
        raise RequestError(f"datasets: {exc}", "datasets") from None
    return values


def eval_params() -> dict[str, Any]:
    rows = [{"name": p.name, "type": p.json_schema().get("type"), "default": p.default,
             "required": p.name in EVAL_REQUIRED, "description": p.help, "secret": p.secret,
             "schema": dict(p.schema)} for p in PARAMS]
    return {"endpoint": "POST /api/v1/eval", "required": list(EVAL_REQUIRED), "parameters": rows,
            "compatibility_keys": sorted(INERT_KEYS)}


# ---------------------------------------------------------------- perf (schemas from PerfArgs' annotations)

_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _annotation_schema(annotation: Any, nargs: str | None) -> dict[str, Any]:
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_annotation_schema(a, nargs) for a in args if a is not type(None)]
        types: list[str] = []
        for part in parts:
            for t in [part["type"]] if isinstance(part["type"], str) else part["type"]:
                if t not in types:
                    types.append(t)
        schema = {k: v for part in parts for k, v in part.items() if k != "type"}
        return {**schema, "type": types + (["null"] if type(None) in args else [])}
    if origin is list:
        item = _SCALARS.get(args[0], "string") if args else "string"
        return {"type": ["array", item], "items": {"type": item}}  # one value stands for a list of one
    if origin is dict or annotation is dict:
        return {"type": ["object", "string"]}
    return {"type": _SCALARS.get(annotation, "string")}


def perf_param_schemas() -> dict[str, dict[str, Any]]:
    from ..perf.args import PERF_PARAMS, PerfArgs

    hints = typing.get_type_hints(PerfArgs)
    schemas: dict[str, dict[str, Any]] = {}
    for param in PERF_PARAMS:
        schema = _annotation_schema(hints[param.name], param.nargs)
        schemas[param.name] = {**schema, "description": param.help, "default": _jsonable(param.default)}
    from ..perf.apis import API_REGISTRY
    from ..perf.datasets import DATASET_REGISTRY

    schemas["url"]["pattern"] = URL_PATTERN  # one URL, or a fleet's list of them
    schemas["url"]["items"] = {"type": "string", "pattern": URL_PATTERN}
    schemas["api"]["enum"] = sorted(API_REGISTRY)
    schemas["dataset"]["enum"] = sorted(DATASET_REGISTRY)
    return {**schemas, **PERF_SERVICE_EXTRAS}


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) or not isinstance(value, (str, int, float, bool, list, dict, type(None))):
        return str(value)
    return value


def validate_perf(body: Any, root: Path) -> dict[str, Any]:
    from ..perf.args import ALIASES, PERF_PARAMS_BY_NAME, PerfArgs

    schemas = perf_param_schemas()
    known = {**schemas, **{alias: schemas[target] for alias, target in ALIASES.items()}}
    values = _check_keys(body, known, PERF_REQUIRED, "perf")
    values.pop("debug", None)
    values = {ALIASES.get(k, k): v for k, v in values.items()}
    for key, value in values.items():
        if value is not None:
            check_type(key, value, schemas[key])
            _parse(key, PERF_PARAMS_BY_NAME[key].parse, value)
    if values.get("outputs_dir") is not None:
        values["outputs_dir"] = str(confine(values["outputs_dir"], root, "outputs_dir"))
    try:
        PerfArgs.from_mapping(values)
    except (ConfigError, ValueError, TypeError) as exc:
        raise RequestError(str(exc), field_of(str(exc), PERF_PARAMS_BY_NAME)) from None
    return values


def perf_params() -> dict[str, Any]:
    from ..perf.args import PERF_PARAMS

    schemas = perf_param_schemas()
    rows = [{"name": p.name, "type": schemas[p.name]["type"], "default": schemas[p.name]["default"],
             "required": p.name in PERF_REQUIRED, "description": p.help, "secret": p.secret,
             "schema": {k: v for k, v in schemas[p.name].items() if k not in ("description", "default")}}
            for p in PERF_PARAMS]
    rows += [{"name": k, "type": v["type"], "default": v["default"], "required": False,
              "description": v["description"], "secret": False, "schema": {"type": v["type"]}}
             for k, v in PERF_SERVICE_EXTRAS.items()]
    return {"endpoint": "POST /api/v1/perf", "required": list(PERF_REQUIRED), "parameters": rows}


def request_schema(schemas: Mapping[str, dict[str, Any]], required: tuple[str, ...]) -> dict[str, Any]:
    """The body's JSON Schema; a required field may not be null or empty."""
    properties = dict(schemas)
    for name in required:
        schema = dict(properties[name])
        types = [schema["type"]] if isinstance(schema["type"], str) else list(schema["type"])
        schema["type"] = [t for t in types if t != "null"]
        schema.update(minLength=1, **({"minItems": 1} if "array" in types else {}))
        properties[name] = schema
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": False}
