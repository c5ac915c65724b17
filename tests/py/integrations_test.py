"""The framework integrations whose base URL can be pointed at `triage serve`, used as their
docs show (docs/clients.md says which ones can and cannot, and why):

- Haystack's Jina embedders (PyPI jina-haystack): `base_url` is the embeddings URL.
- LangChain's OpenAI embeddings (PyPI langchain-openai): `base_url` plus
  `check_embedding_ctx_length=False` (otherwise it tokenises with tiktoken, which fetches
  OpenAI's vocabulary from the internet, and sends token ids instead of text).

Each result must equal what `/v1/embeddings` gives for the same text.

    tests/py/.venv/bin/python tests/py/integrations_test.py
"""

import json
import math
import urllib.request

from serve import TriageServer

MODEL = "all-minilm-l6-v2"
TEXTS = ["The meeting is at noon", "Pasta with garlic"]


def reference(base: str, texts: list[str]) -> list[list[float]]:
    body = json.dumps({"model": MODEL, "input": texts}).encode()
    request = urllib.request.Request(f"{base}/v1/embeddings", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return [d["embedding"] for d in json.load(response)["data"]]


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and math.dist(a, b) < 1e-6


def haystack(base: str, expected: list[list[float]]) -> None:
    from haystack import Document
    from haystack.utils import Secret
    from haystack_integrations.components.embedders.jina import JinaDocumentEmbedder, JinaTextEmbedder

    key = Secret.from_token("not-needed")
    text = JinaTextEmbedder(api_key=key, model=MODEL, base_url=f"{base}/v1/embeddings").run(TEXTS[0])
    assert close(text["embedding"], expected[0]), "JinaTextEmbedder"
    assert text["meta"]["model"] == MODEL and text["meta"]["usage"]["total_tokens"] > 0, text["meta"]
    docs = JinaDocumentEmbedder(api_key=key, model=MODEL, base_url=f"{base}/v1/embeddings").run(
        [Document(content=t) for t in TEXTS]
    )["documents"]
    assert all(close(d.embedding, e) for d, e in zip(docs, expected, strict=True)), "JinaDocumentEmbedder"


def langchain(base: str, expected: list[list[float]]) -> None:
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(
        model=MODEL, base_url=f"{base}/v1", api_key="not-needed", check_embedding_ctx_length=False
    )
    assert all(close(v, e) for v, e in zip(embeddings.embed_documents(TEXTS), expected, strict=True)), "embed_documents"
    assert close(embeddings.embed_query(TEXTS[1]), expected[1]), "embed_query"


def main() -> None:
    with TriageServer() as base:
        expected = reference(base, TEXTS)
        haystack(base, expected)
        langchain(base, expected)
    print("Haystack's JinaTextEmbedder / JinaDocumentEmbedder and LangChain's OpenAIEmbeddings against triage serve: ok")


if __name__ == "__main__":
    main()
