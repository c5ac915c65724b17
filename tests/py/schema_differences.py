"""Where triage deliberately differs from Jina's published schema (tests/fixtures/
jina-openapi-2026.json), each by name with its reason. docs/api.md lists the same.

Two kinds, and nothing else is excused: no check is turned off.

- SCHEMA_PATCHES change what is generated, so the run tests what triage serves: each is a
  function over the schema.
- FAILURE_EXCUSES are schemathesis `filter_failure` hooks (loaded through
  SCHEMATHESIS_HOOKS): a failure is dropped only when one named predicate matches it
  exactly, and each drop is counted in EXCUSED_LOG so a run can say how often each applied.
"""

import json
import os
import re
from collections.abc import Callable

import schemathesis

# Which request schemas carry a `model` and are in the operations triage serves.
REQUEST_PATHS = ("/v1/classify", "/v1/train", "/v1/embeddings")


def _models_of(component: dict) -> list[str] | None:
    model = component.get("properties", {}).get("model")
    if model is None:
        return None
    if "const" in model:
        return [model["const"]]
    return list(model.get("enum", []))


def _set_models(component: dict, models: list[str]) -> None:
    model = component["properties"]["model"]
    model.pop("const", None)
    model["enum"] = models
    model["type"] = "string"


def _refs(node):
    """Every dict in `node` (recursively)."""
    if isinstance(node, dict):
        yield node
        for v in node.values():
            yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _drop_refs(node, removed: set[str]) -> None:
    """Removes references to `removed` components from every oneOf/anyOf, and their
    discriminator mappings."""
    for d in _refs(node):
        for key in ("oneOf", "anyOf"):
            if key in d:
                d[key] = [b for b in d[key] if b.get("$ref", "").rsplit("/", 1)[-1] not in removed]
        mapping = d.get("discriminator", {}).get("mapping")
        if mapping:
            for name, ref in list(mapping.items()):
                if ref.rsplit("/", 1)[-1] in removed:
                    del mapping[name]


def only_models_triage_serves(schema: dict, served: list[str], own: list[str]) -> None:
    """`models-triage-serves`: Jina's 2026 API names 13 models; requests name only those
    triage has *and whose files are on this machine* (`/v1/models` `available`). A model triage
    lacks gets 400 INPUT_MODEL_NOT_FOUND, one whose files are absent 503 SERVICE_UNAVAILABLE;
    both are tested by tests/validation.rs, not here. triage's own models (all-minilm-l6-v2,
    multilingual-e5-small: text only, no task adapters, no Matryoshka) take the request shape
    of Jina's models of that kind, jina-embeddings-v2's, which triage does not have yet."""
    components = schema["components"]["schemas"]
    removed = set()
    for name, component in components.items():
        models = _models_of(component)
        if models is None:
            continue
        if name.startswith("EmbeddingsV2"):
            keep = list(own)
        else:
            keep = [m for m in models if m in served]
        if keep:
            _set_models(component, keep)
        else:
            removed.add(name)
    for path in REQUEST_PATHS:
        _drop_refs(schema["paths"][path], removed)
    # With one branch per model family left, the `model` discriminators only steer
    # generation (OpenAPI does not make them part of validity), and their mappings name
    # models that are gone: dropped, the `oneOf` branches and their `model` enums decide.
    for d in _refs([schema["paths"][p] for p in REQUEST_PATHS]):
        d.pop("discriminator", None)


def model_is_optional(schema: dict, served: list[str], own: list[str]) -> None:
    """`model-optional`: Jina's own Classifier sample request (`/v1/classify` with labels and
    no model) omits `model`, so triage takes its default model (`/health`'s `default_model`)
    where the schema requires one: zero-shot classify, create-training and embeddings."""
    for component in schema["components"]["schemas"].values():
        if "model" in component.get("properties", {}) and "model" in component.get("required", []):
            component["required"] = [r for r in component["required"] if r != "model"]


SCHEMA_PATCHES: list[Callable[[dict, list[str], list[str]], None]] = [only_models_triage_serves, model_is_optional]

EXCUSED_LOG = os.environ.get("TRIAGE_SCHEMA_EXCUSED_LOG")


def _body(response) -> dict:
    try:
        parsed = json.loads(response.content)
    except (ValueError, TypeError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _operation(case) -> str:
    return f"{case.method.upper()} {case.operation.path}"


def documented_label_rules(failure, case, response) -> bool:
    """`documented-label-rules`: a schema-valid request that breaks a label rule Jina states
    only in prose — at least one label to classify against, at least two distinct training
    labels ("Must be a list of text-label training items with at least two unique labels"),
    no empty label — gets Jina's documented 400 INPUT_INVALID_LABELS (the BadRequest response
    of both operations lists it)."""
    return (
        failure.code == "ST202"
        and _operation(case) in ("POST /v1/classify", "POST /v1/train")
        and response.status_code == 400
        and _body(response).get("code") == "INPUT_INVALID_LABELS"
    )


def _validation_fields(response) -> list[tuple[str, str]]:
    """(field, message) of a 422 INPUT_VALIDATION_ERROR; empty for anything else."""
    body = _body(response)
    if response.status_code != 422 or body.get("code") != "INPUT_VALIDATION_ERROR":
        return []
    return [(e.get("field", ""), e.get("message", "")) for e in body.get("errors", [])]


def _rejects(failure, case, response, operations: tuple[str, ...], rule: Callable[[str, str], bool]) -> bool:
    fields = _validation_fields(response)
    return failure.code == "ST202" and _operation(case) in operations and bool(fields) and all(rule(f, m) for f, m in fields)


def documented_limits(failure, case, response) -> bool:
    """`documented-limits`: a schema-valid request over a limit Jina states in prose (up to 512
    inputs, 512 labels, 8 groups of 64 labels; `access` "can be 'public' or 'private'";
    `num_iters` 1–100 in triage, which Jina leaves unbounded) gets 400
    INPUT_LABEL_LIMIT_EXCEEDED, or 422 INPUT_VALIDATION_ERROR naming the field and the limit."""
    if failure.code == "ST202" and response.status_code == 400 and _body(response).get("code") == "INPUT_LABEL_LIMIT_EXCEEDED":
        return _operation(case) in ("POST /v1/classify", "POST /v1/train")
    return _rejects(
        failure, case, response, ("POST /v1/classify", "POST /v1/train", "POST /v1/embeddings"),
        lambda field, message: (field == "num_iters" and "from 1 to 100" in message)
        or (field == "access" and "must be 'public' or 'private'" in message)
        or " at most " in message,
    )


def nothing_to_process(failure, case, response) -> bool:
    """`nothing-to-process`: the schema lets `input` (and the embeddings' `embedding_type`
    list) be empty, or a classifier id / label / text be the empty string; Jina's prose asks
    for items ("a list of up to 512 items", "at least two unique labels"), and an empty list or
    id gets 422 INPUT_VALIDATION_ERROR saying so. (An empty *text* is embedded, as Jina does.)"""
    return _rejects(
        failure, case, response, ("POST /v1/classify", "POST /v1/train", "POST /v1/embeddings"),
        lambda field, message: field in ("input", "embedding_type", "classifier_id", "labels")
        and ("must not be empty" in message or "must not be an empty list" in message or "non-empty list" in message),
    )


def images_must_decode(failure, case, response) -> bool:
    """`images-must-decode`: Jina's `image` is any string; it must be an http(s) URL or the
    base64 of an image in a format triage decodes (PNG, JPEG, WebP, GIF, BMP), else 422
    INPUT_VALIDATION_ERROR on `input` says which. Jina answers such an image with an error too."""
    return _rejects(
        failure, case, response, ("POST /v1/classify", "POST /v1/train", "POST /v1/embeddings"),
        lambda field, message: field.startswith("input")
        and any(
            reason in message
            for reason in ("the image is neither", "'image' must not be empty", "URLs are not fetched", "the data URL", "the image's base64 data is empty", "the image URL contains")
        ),
    )


def several_embedding_types(failure, case, response) -> bool:
    """`several-embedding-types`: with a *list* `embedding_type` (Jina's "or a list of these"),
    each item's `embedding` is an object keyed by type (`{"float": [...], "base64": "..."}`),
    one vector per asked type; the 2026 schema's `SingleEmbeddingData` has no shape for that
    (its object form is elser-v2's sparse `{token: score}`)."""
    if failure.code != "ST108" or _operation(case) != "POST /v1/embeddings" or response.status_code != 200:
        return False
    asked = case.body.get("embedding_type") if isinstance(case.body, dict) else None
    if not isinstance(asked, list):
        return False
    data = _body(response).get("data", [])
    return bool(data) and all(
        isinstance(d.get("embedding"), dict)
        and set(d["embedding"]) == set(asked)
        and all(isinstance(v, (list, str)) for v in d["embedding"].values())
        for d in data
    )


_SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "..", "fixtures", "jina-openapi-2026.json")
with open(_SCHEMA_FILE) as _f:
    # Every property name any schema of Jina's API defines.
    NAMED_FIELDS = {name for d in _refs(json.load(_f)) if isinstance(d.get("properties"), dict) for name in d["properties"]}


def unknown_fields_refused(failure, case, response) -> bool:
    """`unknown-fields-refused`: the 2026 schema allows extra properties; Jina's 2024 schema
    forbids them (`additionalProperties: false` on every request), and triage keeps that rule:
    a field no schema of Jina's API names gets 422 ("Unknown field 'x'. Allowed fields: …"), so
    a misspelt field (`lables`, `num_iter`) is an error instead of being silently dropped. A
    field the 2026 schema *does* name is never excused (NAMED_FIELDS)."""

    def unknown(field: str, message: str) -> bool:
        name = re.match(r"(?:input(?:\[\d+\])?: )?Unknown field '(.*)'\. Allowed fields", message, re.S)
        return name is not None and name.group(1) not in NAMED_FIELDS

    return _rejects(failure, case, response, ("POST /v1/classify", "POST /v1/train", "POST /v1/embeddings"), unknown)


FAILURE_EXCUSES = [unknown_fields_refused, several_embedding_types, documented_label_rules, documented_limits, nothing_to_process, images_must_decode]


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    for excuse in FAILURE_EXCUSES:
        if excuse(failure, case, response):
            if EXCUSED_LOG:
                with open(EXCUSED_LOG, "a") as log:
                    body = _body(response)
                    log.write(json.dumps({"excuse": excuse.__name__, "operation": _operation(case), "status": response.status_code, "detail": body.get("detail", "")[:100]}) + "\n")
            return False
    return True
