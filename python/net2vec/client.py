"""A client of the `net2vec serve` HTTP/JSON API (docs/API.md), standard library only.

    import net2vec
    api = net2vec.Client("http://127.0.0.1:8080")
    api.neighbors("glove-100d", "dog", k=5)["hits"]
    api.analogy("glove-100d", ["lime", "yellow-c"], ["green-c"], method="mul")

Every method returns the API's JSON document exactly as json.loads reads the body; parameters
left as None are not sent, so the server's defaults apply. A non-2xx answer raises ClientError
with the HTTP status and the API's error object ({"code", "status", "message",
"suggestions"}); a server that cannot be reached raises ClientError with status None.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, Iterable, Optional, Sequence, Tuple, Union

__all__ = ["Client", "ClientError"]


class ClientError(Exception):
    """An API error answer (or no answer). `status`: the HTTP status (None: no answer);
    `error`: the API's error object, {} when the body was not the API's JSON; `code`,
    `message`, `suggestions` taken from it; `url` the request's URL."""

    def __init__(self, message: str, status: Optional[int], error: Optional[Dict[str, Any]] = None,
                 url: str = "", body: bytes = b""):
        super().__init__(message)
        self.status = status
        self.error = dict(error or {})
        self.code = self.error.get("code")
        self.message = self.error.get("message", message)
        self.suggestions = list(self.error.get("suggestions") or [])
        self.url = url
        self.body = body


def _query_value(value: Any) -> Optional[str]:
    """A query-string value: lists joined by ',' (the API's list syntax), booleans as
    true/false, floats in their shortest exact form (float32 values survive the trip)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return repr(float(value)) if isinstance(value, float) else str(int(value))
    if hasattr(value, "tolist"):  # numpy arrays and scalars
        return _query_value(value.tolist())
    if isinstance(value, Iterable):
        return ",".join(_query_value(v) or "" for v in value)
    return str(value)


class Client:
    """The API of one server, e.g. Client("http://127.0.0.1:8080") (a trailing / or /api is
    accepted). `timeout` is per request, in seconds."""

    def __init__(self, url: str, timeout: float = 60.0):
        base = url.rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]
        if "://" not in base:
            base = "http://" + base
        self.url = base
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"net2vec.Client({self.url!r})"

    # ---- generic ----

    def _target(self, path: str, params: Optional[Dict[str, Any]] = None) -> str:
        if not path.startswith("/"):
            path = "/api/" + path
        query = []
        for name, value in (params or {}).items():
            text = _query_value(value)
            if text is not None:
                query.append((name, text))
        target = self.url + path
        if query:
            target += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)
        return target

    def _send(self, request: urllib.request.Request) -> bytes:
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as e:
            body = e.read() or b""
            try:
                error = json.loads(body).get("error", {})
            except (ValueError, AttributeError):
                error = {}
            message = error.get("message") if isinstance(error, dict) else None
            raise ClientError(f"{request.get_method()} {request.full_url}: HTTP {e.code}"
                              + (f": {message}" if message else ""), e.code,
                              error if isinstance(error, dict) else {}, request.full_url, body) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise ClientError(f"{request.get_method()} {request.full_url}: no answer ({reason})", None,
                              url=request.full_url) from e

    def get_bytes(self, path: str, **params: Any) -> bytes:
        """GET path (`/api/...`, or a route name such as `neighbors`) with query parameters:
        the body's bytes (for /api/export and the PNG routes)."""
        return self._send(urllib.request.Request(self._target(path, params), method="GET"))

    def get(self, path: str, **params: Any) -> Any:
        """GET path with query parameters (None: not sent; lists joined by ','): the JSON."""
        return json.loads(self.get_bytes(path, **params))

    def post(self, path: str, body: Any) -> Any:
        """POST a JSON body to path: the JSON answer."""
        data = json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self._target(path), data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        return json.loads(self._send(request))

    # ---- the routes (docs/API.md) ----

    def health(self) -> Dict[str, Any]:
        return self.get("/api/health")

    def spaces(self) -> Dict[str, Any]:
        """{"spaces": [{"id", "kind", "network", "layer", "task", "metric", "dim", ...}]}"""
        return self.get("/api/spaces")

    def concepts(self, space: str, category: Optional[str] = None) -> Dict[str, Any]:
        """A space's concepts with their val score, best filter and norm; each val score with its
        95 % interval, p against chance and the null's mean (`score_val_interval`, `score_val_p`,
        ...; None where not computed)."""
        return self.get("/api/spaces/" + urllib.parse.quote(space, safe="") + "/concepts", category=category)

    def neighbors(self, space: str, concept: Optional[str] = None, k: Optional[int] = None,
                  category: Optional[str] = None, vector: Optional[Sequence[float]] = None) -> Dict[str, Any]:
        """Nearest concepts by cosine, the query excluded: from a concept name or a raw vector
        (one value per filter)."""
        if (concept is None) == (vector is None):
            raise ValueError("neighbors(): give exactly one of concept and vector")
        if vector is not None:
            vector = [float(v) for v in vector]
        return self.get("/api/neighbors", space=space, concept=concept, vector=vector, k=k, category=category)

    def analogy(self, space: str, positive: Sequence[str], negative: Sequence[str] = (), k: Optional[int] = None,
                method: Optional[str] = None, category: Optional[str] = None) -> Dict[str, Any]:
        """Concepts nearest to sum(positive) - sum(negative); method "add" (3CosAdd) or "mul"
        (3CosMul)."""
        body: Dict[str, Any] = {"space": space, "positive": list(positive), "negative": list(negative)}
        for key, value in (("k", k), ("method", method), ("category", category)):
            if value is not None:
                body[key] = value
        return self.post("/api/analogy", body)

    def compare(self, spaces: Union[str, Sequence[str]] = "all", concepts: Optional[Sequence[str]] = None,
                per_concept: Union[int, str, None] = None, memory_mb: Optional[int] = None) -> Dict[str, Any]:
        """D_ij, CKA and per-category D_ijc between spaces ("all", or two or more ids)."""
        return self.get("/api/compare", spaces=spaces, concepts=concepts, per_concept=per_concept,
                        memory_mb=memory_mb)

    def concept(self, space: str, concept: str, top: Optional[int] = None) -> Dict[str, Any]:
        """Every stored score of a concept (GET /api/concepts/{name})."""
        return self.get("/api/concepts/" + urllib.parse.quote(concept, safe=""), space=space, top=top)

    def concept_images(self, space: str, concept: str, limit: Optional[int] = None) -> Dict[str, Any]:
        return self.get("/api/concepts/" + urllib.parse.quote(concept, safe="") + "/images", space=space,
                        limit=limit)

    def examples(self, space: str, queries: Optional[Sequence[str]] = None,
                 sums: Union[str, Sequence[Union[str, Tuple[Sequence[str], Sequence[str]]]], None] = None,
                 k: Optional[int] = None) -> Dict[str, Any]:
        """Paper Tables 2 and 3. `sums`: the API's text ("a,b/c;d/e") or a list of
        "a,b/c" strings or (positives, negatives) pairs."""
        if sums is not None and not isinstance(sums, str):
            parts = []
            for s in sums:
                if isinstance(s, str):
                    parts.append(s)
                else:
                    pos, neg = s
                    parts.append(",".join(pos) + ("/" + ",".join(neg) if neg else ""))
            sums = ";".join(parts)
        return self.get("/api/examples", space=space, queries=queries, sums=sums, k=k)

    def filters(self, space: str, filter: Optional[int] = None, top: Optional[int] = None) -> Dict[str, Any]:  # noqa: A002
        """Without `filter`: how many concepts pick each filter (Figure 5); with it, that
        filter's concepts."""
        return self.get("/api/filters", space=space, filter=filter, top=top)

    def analyses(self, space: str) -> Dict[str, Any]:
        return self.get("/api/analyses", space=space)

    def map(self, space: str, perplexity: Optional[int] = None, iterations: Optional[int] = None,
            seed: Optional[int] = None, clusters: Optional[int] = None) -> Dict[str, Any]:
        return self.get("/api/map", space=space, perplexity=perplexity, iterations=iterations, seed=seed,
                        clusters=clusters)

    def export_vectors(self, space: str, format: str = "npy", normalize: bool = False) -> bytes:  # noqa: A002
        """The bytes of `net2vec export`'s file: npy (numpy.load(io.BytesIO(...))), tsv or
        metadata (TSV text)."""
        return self.get_bytes("/api/export", space=space, format=format, normalize=normalize or None)

    def openapi(self) -> Dict[str, Any]:
        return self.get("/api/openapi.json")
