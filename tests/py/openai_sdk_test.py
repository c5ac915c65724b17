"""OpenAI's Python SDK (PyPI `openai`), as an application written for OpenAI's embeddings
API calls it, pointed at `triage serve`: the default request (base64), explicit float,
`dimensions`, one string, a batch, a bad model (the SDK's error class, Jina's code in the
body) and `models.list()`.

    tests/py/.venv/bin/python tests/py/openai_sdk_test.py     (tests/run.sh sets the venv up)
"""

import base64
import math
import struct
import sys

import openai
from openai import OpenAI

from serve import TriageServer

MODEL = "all-minilm-l6-v2"
TEXTS = ["The meeting is at noon", "Pasta with garlic"]


def main() -> None:
    with TriageServer() as base:
        client = OpenAI(base_url=f"{base}/v1", api_key="not-needed", max_retries=0)

        # The SDK's default: it asks for base64 and decodes it to floats itself.
        by_default = client.embeddings.create(model=MODEL, input=TEXTS)
        assert by_default.object == "list" and by_default.model == MODEL, by_default
        assert [(d.object, d.index) for d in by_default.data] == [("embedding", 0), ("embedding", 1)]
        assert len(by_default.data[0].embedding) == 384
        assert by_default.usage.prompt_tokens > 0
        assert by_default.usage.total_tokens == by_default.usage.prompt_tokens

        as_float = client.embeddings.create(model=MODEL, input=TEXTS, encoding_format="float")
        assert [d.embedding for d in as_float.data] == [d.embedding for d in by_default.data], "base64 and float agree"
        norm = math.sqrt(sum(x * x for x in as_float.data[0].embedding))
        assert abs(norm - 1) < 1e-5, f"unit vectors (norm {norm})"

        # What the SDK decodes is little-endian f32, as OpenAI sends it.
        raw = client.embeddings.with_raw_response.create(model=MODEL, input=TEXTS[:1], encoding_format="base64")
        packed = raw.http_response.json()["data"][0]["embedding"]
        floats = struct.unpack(f"<{384}f", base64.b64decode(packed))
        assert list(floats) == as_float.data[0].embedding

        single = client.embeddings.create(model=MODEL, input=TEXTS[0], user="someone")
        assert single.data[0].embedding == as_float.data[0].embedding, "one string is a batch of one"

        # all-minilm-l6-v2 is not Matryoshka-trained: only its own width is accepted.
        assert len(client.embeddings.create(model=MODEL, input="x", dimensions=384).data[0].embedding) == 384
        try:
            client.embeddings.create(model=MODEL, input="x", dimensions=64)
            raise AssertionError("dimensions=64 accepted")
        except openai.UnprocessableEntityError as e:
            assert e.code == "INPUT_VALIDATION_ERROR" and e.param == "dimensions", (e.code, e.param)

        try:
            client.embeddings.create(model="gpt-9", input="x")
            raise AssertionError("an unknown model accepted")
        except openai.BadRequestError as e:
            assert e.status_code == 400
            assert e.code == "INPUT_MODEL_NOT_FOUND", e.code
            assert "Model 'gpt-9' not found" in e.message, e.message
            # The SDK's `body` is OpenAI's error object, which triage puts beside Jina's fields.
            assert e.body == {"message": e.body["message"], "type": "invalid_request_error", "code": "INPUT_MODEL_NOT_FOUND", "param": "model"}, e.body

        models = [m for m in client.models.list()]
        ids = [m.id for m in models]
        assert MODEL in ids and "jina-embeddings-v3" in ids, ids
        assert all(m.object == "model" and isinstance(m.created, int) and m.owned_by for m in models)
        assert client.models.retrieve(MODEL).id == MODEL
        try:
            client.models.retrieve("gpt-9")
            raise AssertionError("an unknown model retrieved")
        except openai.NotFoundError as e:
            assert e.code == "RESOURCE_NOT_FOUND", e.code

    print(f"OpenAI Python SDK {openai.__version__}: embeddings (base64, float, one string, dimensions), errors, models.list() / retrieve() against triage serve: ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e!r}", file=sys.stderr)
        raise
