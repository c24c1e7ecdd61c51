"""Read-only access to a net2vec catalog (the SQLite file `net2vec-ingest` writes).

    import net2vec
    with net2vec.open("data/demo/catalog.db") as cat:
        for s in cat.spaces():
            print(s.id, s.task, s.dim, s.concept_count)
        names, w = cat.vectors("mobilenet_v2.block_10_expand_relu.seg")   # (n, dim) float32

The schema is described in docs/CATALOG.md and sql/*.sql; this module only reads it. The file
is opened read-only (an SQLite `file:...?mode=ro` URI), checked to be a net2vec catalog
(application_id 'N2VC', a schema version), and every method reads what it returns inside one
read transaction, so a concurrent `net2vec-ingest` replacing a space never yields a half-old,
half-new answer.

Vectors are decoded from the stored little-endian float32 BLOBs without conversion:
`vectors()` rows hold exactly the catalog's bytes. Scores are the stored REAL columns
(float32 values widened to double, so exact); `None` where the catalog has NULL ("not
measured": set IoU of a classification space, every score of a reference space).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import sqlite3
import urllib.parse
import warnings
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

__all__ = [
    "APPLICATION_ID", "KNOWN_SCHEMA_VERSION", "CatalogError", "Catalog", "Space", "Concept", "Run",
    "ImageIou", "PredictedMask", "open",
]

APPLICATION_ID = 0x4E325643  # 'N2VC', PRAGMA application_id of every catalog (sql/001_init.sql)
KNOWN_SCHEMA_VERSION = 8     # the newest sql/NNN_*.sql this reader was written against

_TASK_SHORT = {"segmentation": "seg", "classification": "cls"}
_TASK_ALIASES = {"seg": "segmentation", "segmentation": "segmentation",
                 "cls": "classification", "classification": "classification"}
_METRIC = {"segmentation": "set_iou", "classification": "balanced_accuracy"}


class CatalogError(Exception):
    """A file that is not a readable net2vec catalog, or a space / concept it does not hold.

    `path` is the catalog file; `suggestions` the closest existing names for an unknown space
    or concept, best first (empty otherwise)."""

    def __init__(self, message: str, path: Optional[str] = None, suggestions: Sequence[str] = ()):
        super().__init__(message)
        self.path = path
        self.suggestions = list(suggestions)


# ---- records ---------------------------------------------------------------------------------

class _Record:
    def as_dict(self) -> Dict[str, Any]:
        """The fields as a plain dict (for json.dumps or pandas.DataFrame)."""
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Space(_Record):
    """A row of `space`, with its run's own spelling of the layer and its concept count.

    `layer` is the id part stored in space.layer (URL-safe, e.g. `layer4-1-conv2`);
    `model_layer` is the layer as the model names it (run.layer, e.g. `layer4.1.conv2`), None
    for reference spaces. `task` is None for reference spaces; `metric` is what their scores
    are (`set_iou`, `balanced_accuracy`, None for reference spaces), as in docs/API.md."""

    id: str
    kind: str
    network: str
    layer: str
    model_layer: Optional[str]
    task: Optional[str]
    metric: Optional[str]
    dim: int
    concept_count: int
    run_id: Optional[int]
    created_at: str
    source: Optional[str]


@dataclass(frozen=True)
class Concept(_Record):
    """A concept's embedding row in one space: every stored score (None: NULL).

    `score_train` / `score_val` are the learned weights' scores in the space's metric
    (set_iou_* for segmentation, accuracy_* for classification), as the API's `score_val`."""

    number: int
    name: str
    category: str
    categories: str
    train_count: int
    val_count: int
    set_iou_train: Optional[float]
    set_iou_val: Optional[float]
    accuracy_train: Optional[float]
    accuracy_val: Optional[float]
    best_filter: int             # -1: none (reference spaces)
    best_filter_train: Optional[float]
    best_filter_val: Optional[float]
    alpha: float
    bias: float
    score_train: Optional[float]
    score_val: Optional[float]
    # Schema version 7 (docs/METHOD.md, "Intervals and chance"): the val score's and the best
    # filter's 95 % bootstrap interval (low, high), p against chance and the null's mean; None:
    # not computed (an older catalog, or turned off at ingest).
    score_val_interval: Optional[Tuple[float, float]] = None
    score_val_p: Optional[float] = None
    score_val_null_mean: Optional[float] = None
    best_filter_val_interval: Optional[Tuple[float, float]] = None
    best_filter_val_p: Optional[float] = None
    best_filter_val_null_mean: Optional[float] = None


@dataclass(frozen=True)
class Run(_Record):
    """One ingest (table `run`): what produced a network space, with its JSON columns parsed.

    `probe_set` holds the probe set's row (name, path, image_count, mask_height, mask_width,
    categories, and content_hash from schema version 5, None before). `top_images` is how many
    top images a filter kept (schema 6; 0: off), `model_sha256` the model file's SHA-256
    (schema 8, what `net2vec-ingest --reproduce` checks); None where the catalog is older or
    the run did not record them."""

    id: int
    network: str
    model_path: str
    layer: str
    device: str
    software_version: str
    seed: int
    tau: float
    params: Any
    preprocessing: Any
    timings: Any
    started_at: str
    finished_at: str
    images_used: int
    images_skipped: int
    filter_count: int
    act_height: int
    act_width: int
    probe_set: Dict[str, Any] = field(default_factory=dict)
    top_images: Optional[int] = None
    model_sha256: Optional[str] = None


@dataclass(frozen=True)
class ImageIou(_Record):
    """The IoU of one val image of a concept (eq. 3): learned weights and best single filter."""

    row: int                   # index.csv data row (0-based)
    path: str
    learned: Optional[float]   # None: undefined (empty union)
    single: Optional[float]


@dataclass(frozen=True)
class PredictedMask(_Record):
    """The masks predicted on one decile image (paper Figure 8, schema version 4): boolean
    arrays of height x width, learned weights and best single filter."""

    row: int
    path: str
    learned: Any  # numpy bool array (height, width)
    single: Any


# ---- helpers ---------------------------------------------------------------------------------

def _numpy():
    try:
        import numpy
    except ImportError as e:  # pragma: no cover - python3-numpy is a dependency
        raise ImportError("net2vec.Catalog needs numpy for arrays (Debian: apt install python3-numpy)") from e
    return numpy


def _json(text: Optional[str]) -> Any:
    return None if text is None else json.loads(text)


def _close(word: str, candidates: Sequence[str], n: int = 5) -> List[str]:
    return difflib.get_close_matches(word, list(dict.fromkeys(candidates)), n=n, cutoff=0.6)


def _did_you_mean(suggestions: Sequence[str]) -> str:
    if not suggestions:
        return ""
    return "; did you mean " + " or ".join(f"'{s}'" for s in suggestions) + "?"


def open(path: Union[str, "os.PathLike[str]"], *, timeout: float = 5.0) -> "Catalog":  # noqa: A001
    """Opens a catalog read-only. Raises CatalogError naming the path for a missing file, a
    file that is not SQLite, or an SQLite file that is not a net2vec catalog."""
    return Catalog(path, timeout=timeout)


# ---- the catalog -----------------------------------------------------------------------------

SpaceRef = Union[str, Space]


class Catalog:
    """A read-only net2vec catalog. Use as a context manager or call close().

    Spaces are named by id (`toynet.conv.seg`, `wordnet`), by the model's spelling of the
    layer (`resnet18.layer4.1.conv2.seg` finds the space stored as
    `resnet18.layer4-1-conv2.seg` whose run.layer is `layer4.1.conv2`; `segmentation` /
    `classification` may replace `seg` / `cls`), or by a Space record."""

    def __init__(self, path: Union[str, "os.PathLike[str]"], *, timeout: float = 5.0):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise CatalogError(f"{self.path}: no such file (not a net2vec catalog)", self.path)
        if os.path.isdir(self.path):
            raise CatalogError(f"{self.path} is a directory, not a net2vec catalog", self.path)
        uri = "file:" + urllib.parse.quote(os.path.abspath(self.path)) + "?mode=ro"
        try:
            self._db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None)
        except sqlite3.Error as e:
            raise CatalogError(f"cannot open {self.path} read-only: {e}", self.path) from e
        try:
            self._check_identity()
            self._columns = {t: self._table_columns(t) for t in ("space", "embedding", "probe_set", "run")}
            self._tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except BaseException:
            self._db.close()
            raise

    # -- opening --

    def _check_identity(self) -> None:
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
        except sqlite3.DatabaseError as e:
            raise CatalogError(f"{self.path} is not a net2vec catalog (not an SQLite database: {e})",
                               self.path) from e
        if app_id != APPLICATION_ID:
            raise CatalogError(f"{self.path} is not a net2vec catalog (an SQLite file with application_id "
                               f"{app_id}, not {APPLICATION_ID} 'N2VC')", self.path)
        if version < 1:
            raise CatalogError(f"{self.path} is not a net2vec catalog (an SQLite file without its schema)",
                               self.path)
        if version > KNOWN_SCHEMA_VERSION:
            warnings.warn(f"catalog {self.path} has schema version {version}, newer than this reader's "
                          f"{KNOWN_SCHEMA_VERSION}; reading the columns it knows", RuntimeWarning, stacklevel=3)
        self.schema_version = int(version)

    def _table_columns(self, table: str) -> set:
        return {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}

    def close(self) -> None:
        """Closes the file; further calls raise sqlite3.ProgrammingError."""
        self._db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"net2vec.Catalog({self.path!r}, schema_version={self.schema_version})"

    # -- one read transaction per request --

    class _Read:
        def __init__(self, db: sqlite3.Connection):
            self.db = db

        def __enter__(self) -> sqlite3.Connection:
            self.db.execute("BEGIN")
            return self.db

        def __exit__(self, exc_type, exc, tb) -> None:
            self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")

    def _read(self) -> "_Read":
        return Catalog._Read(self._db)

    # -- spaces --

    def _space_select(self) -> str:
        source = "s.source" if "source" in self._columns["space"] else "NULL"
        return ("SELECT s.id, s.kind, s.network, s.layer, r.layer, s.task, s.dim,"
                " (SELECT count(*) FROM embedding e WHERE e.space_id = s.id), s.run_id, s.created_at, "
                + source + " FROM space s LEFT JOIN run r ON r.id = s.run_id")

    @staticmethod
    def _space_row(row: Sequence[Any]) -> Space:
        sid, kind, network, layer, model_layer, task, dim, count, run_id, created, source = row
        if kind != "network":
            task = None  # schema version 1 stored a task for reference rows
        return Space(id=sid, kind=kind, network=network, layer=layer, model_layer=model_layer, task=task,
                     metric=_METRIC.get(task) if task else None, dim=int(dim), concept_count=int(count),
                     run_id=run_id, created_at=created, source=source)

    def _spaces(self, db: sqlite3.Connection) -> List[Space]:
        return [self._space_row(r) for r in db.execute(self._space_select() + " ORDER BY s.id")]

    def spaces(self) -> List[Space]:
        """Every space, by id."""
        with self._read() as db:
            return self._spaces(db)

    def _resolve(self, db: sqlite3.Connection, ref: SpaceRef) -> Space:
        key = ref.id if isinstance(ref, Space) else str(ref)
        row = db.execute(self._space_select() + " WHERE s.id = ?", (key,)).fetchone()
        if row:
            return self._space_row(row)
        parts = key.split(".")
        if len(parts) >= 3 and parts[-1].lower() in _TASK_ALIASES:
            found = self._by_model_layer(db, parts[0], ".".join(parts[1:-1]), _TASK_ALIASES[parts[-1].lower()])
            if found:
                return found
        spaces = self._spaces(db)
        names = [s.id for s in spaces] + [f"{s.network}.{s.model_layer}.{_TASK_SHORT[s.task]}"
                                          for s in spaces if s.model_layer and s.task]
        close = _close(key, names)
        raise CatalogError(f"no space '{key}' in catalog {self.path}{_did_you_mean(close)}", self.path, close)

    def _by_model_layer(self, db: sqlite3.Connection, network: str, layer: str, task: str) -> Optional[Space]:
        row = db.execute(self._space_select() + " WHERE s.network = ? AND s.task = ? AND (r.layer = ? OR s.layer = ?)"
                         " ORDER BY r.layer = ? DESC, s.id LIMIT 1", (network, task, layer, layer, layer)).fetchone()
        return self._space_row(row) if row else None

    def space(self, id: Optional[SpaceRef] = None, *, network: Optional[str] = None,  # noqa: A002
              layer: Optional[str] = None, task: Optional[str] = None) -> Space:
        """A space by id or by the model's spelling of its layer (see the class docstring), or
        by network=, layer= (model spelling or id part) and task= (seg, cls, segmentation,
        classification). Raises CatalogError listing close names when there is none."""
        with self._read() as db:
            if id is not None:
                if network is not None or layer is not None or task is not None:
                    raise TypeError("space(): give an id or network=, layer=, task=, not both")
                return self._resolve(db, id)
            if network is None or layer is None or task is None:
                raise TypeError("space(): give an id, or all of network=, layer= and task=")
            if task.lower() not in _TASK_ALIASES:
                raise ValueError(f"task must be seg, cls, segmentation or classification, got '{task}'")
            found = self._by_model_layer(db, network, layer, _TASK_ALIASES[task.lower()])
            if found:
                return found
            return self._resolve(db, f"{network}.{layer}.{_TASK_SHORT[_TASK_ALIASES[task.lower()]]}")

    # -- concepts and vectors --

    def _concept_select(self) -> str:
        stats = ("e.score_val_low, e.score_val_high, e.score_val_p, e.score_val_null_mean, e.best_filter_val_low,"
                 " e.best_filter_val_high, e.best_filter_val_p, e.best_filter_val_null_mean"
                 if "score_val_low" in self._columns["embedding"] else ", ".join(["NULL"] * 8))
        return ("SELECT e.id, c.number, c.name, c.category, c.categories, e.train_count, e.val_count,"
                " e.set_iou_train, e.set_iou_val, e.accuracy_train, e.accuracy_val, e.best_filter,"
                " e.best_filter_train, e.best_filter_val, e.alpha, e.bias, " + stats +
                " FROM embedding e JOIN concept c ON c.id = e.concept_id WHERE e.space_id = ?")

    @staticmethod
    def _concept_row(space: Space, row: Sequence[Any]) -> Concept:
        (_, number, name, category, categories, train_count, val_count, iou_t, iou_v, acc_t, acc_v,
         best, best_t, best_v, alpha, bias, lo, hi, p, null_mean, b_lo, b_hi, b_p, b_null_mean) = row
        if space.task == "segmentation":
            score_t, score_v = iou_t, iou_v
        elif space.task == "classification":
            score_t, score_v = acc_t, acc_v
        else:
            score_t = score_v = None
        return Concept(number=number, name=name, category=category, categories=categories,
                       train_count=train_count, val_count=val_count, set_iou_train=iou_t, set_iou_val=iou_v,
                       accuracy_train=acc_t, accuracy_val=acc_v, best_filter=best, best_filter_train=best_t,
                       best_filter_val=best_v, alpha=alpha, bias=bias, score_train=score_t, score_val=score_v,
                       score_val_interval=None if lo is None or hi is None else (lo, hi), score_val_p=p,
                       score_val_null_mean=null_mean,
                       best_filter_val_interval=None if b_lo is None or b_hi is None else (b_lo, b_hi),
                       best_filter_val_p=b_p, best_filter_val_null_mean=b_null_mean)

    def _embedding_id(self, db: sqlite3.Connection, space: Space, concept: str) -> Tuple[int, Sequence[Any]]:
        row = db.execute(self._concept_select() + " AND c.name = ? ORDER BY c.number, c.id LIMIT 1",
                         (space.id, concept)).fetchone()
        if row is None:
            names = [r[0] for r in db.execute("SELECT c.name FROM embedding e JOIN concept c ON c.id = e.concept_id"
                                              " WHERE e.space_id = ?", (space.id,))]
            close = _close(concept, names)
            raise CatalogError(f"no concept '{concept}' in space '{space.id}'{_did_you_mean(close)}", self.path, close)
        return row[0], row

    def concepts(self, space: SpaceRef, category: Optional[str] = None) -> List[Concept]:
        """The concepts of a space with every stored score, by BRODEN number; only `category`
        (primary category) when given."""
        with self._read() as db:
            s = self._resolve(db, space)
            sql, args = self._concept_select(), [s.id]
            if category is not None:
                sql += " AND c.category = ?"
                args.append(category)
            return [self._concept_row(s, r) for r in db.execute(sql + " ORDER BY c.number, c.id", args)]

    def concept(self, space: SpaceRef, name: str) -> Concept:
        """One concept's row by name (CatalogError with close names when absent)."""
        with self._read() as db:
            s = self._resolve(db, space)
            return self._concept_row(s, self._embedding_id(db, s, name)[1])

    def _matrix(self, db: sqlite3.Connection, space: Space, column: str, nullable: bool):
        np = _numpy()
        names: List[str] = []
        rows = []
        nbytes = 4 * space.dim
        for name, blob in db.execute(f"SELECT c.name, e.{column} FROM embedding e JOIN concept c ON c.id = e.concept_id"
                                     " WHERE e.space_id = ? ORDER BY c.number, c.id", (space.id,)):
            names.append(name)
            if blob is None and nullable:
                rows.append(np.full(space.dim, np.nan, dtype=np.float32))
                continue
            if blob is None or len(blob) != nbytes:
                raise CatalogError(f"catalog {self.path}: space {space.id}, concept '{name}': {column} of "
                                   f"{0 if blob is None else len(blob)} bytes for dim {space.dim}", self.path)
            rows.append(np.frombuffer(blob, dtype="<f4"))
        out = np.empty((len(rows), space.dim), dtype=np.float32)
        for i, r in enumerate(rows):
            out[i] = r
        return names, out

    def vectors(self, space: SpaceRef):
        """(names, W): concept names by BRODEN number and a float32 array (n, dim) whose row i
        is the stored weight vector of names[i], byte for byte."""
        with self._read() as db:
            return self._matrix(db, self._resolve(db, space), "vector", nullable=False)

    def vector(self, space: SpaceRef, name: str):
        """One concept's stored weight vector, float32 (dim,)."""
        np = _numpy()
        with self._read() as db:
            s = self._resolve(db, space)
            eid, _ = self._embedding_id(db, s, name)
            blob = db.execute("SELECT vector FROM embedding WHERE id = ?", (eid,)).fetchone()[0]
        if len(blob) != 4 * s.dim:
            raise CatalogError(f"catalog {self.path}: space {s.id}, concept '{name}': vector of {len(blob)} bytes "
                               f"for dim {s.dim}", self.path)
        return np.frombuffer(blob, dtype="<f4").astype(np.float32)

    def filter_iou(self, space: SpaceRef):
        """(names, M): the val set IoU of every single filter per concept (sql/003), float32
        (n, dim); rows of NaN where none is stored (classification and reference spaces,
        catalogs before schema version 3)."""
        with self._read() as db:
            s = self._resolve(db, space)
            if "filter_iou_val" not in self._columns["embedding"]:
                names, m = self._matrix(db, s, "vector", nullable=False)
                m[:] = float("nan")
                return names, m
            return self._matrix(db, s, "filter_iou_val", nullable=True)

    def subset_scores(self, space: SpaceRef) -> Dict[str, List[Tuple[int, Optional[float]]]]:
        """The F sweep: {concept name: [(F, val score of the top-F retraining), ...]} by F, the
        concepts by BRODEN number (those without a sweep map to [])."""
        with self._read() as db:
            s = self._resolve(db, space)
            out: Dict[str, List[Tuple[int, Optional[float]]]] = {}
            for name, filters, score in db.execute(
                    "SELECT c.name, ss.filters, ss.score FROM embedding e JOIN concept c ON c.id = e.concept_id"
                    " LEFT JOIN subset_score ss ON ss.embedding_id = e.id WHERE e.space_id = ?"
                    " ORDER BY c.number, c.id, ss.filters", (s.id,)):
                points = out.setdefault(name, [])
                if filters is not None:
                    points.append((filters, score))
            return out

    # -- the run --

    def _run_id(self, s: Space) -> int:
        if s.run_id is None:
            raise CatalogError(f"space '{s.id}' is a reference space ({s.source or 'no source'}): it has no run",
                               self.path)
        return s.run_id

    def thresholds(self, space: SpaceRef):
        """T_k of every filter of the space's run (top-tau quantile), float64 (filter_count,),
        by filter; exactly the stored REAL values."""
        np = _numpy()
        with self._read() as db:
            run_id = self._run_id(self._resolve(db, space))
            values = [v for (v,) in db.execute("SELECT value FROM threshold WHERE run_id = ? ORDER BY filter",
                                               (run_id,))]
        return np.array(values, dtype=np.float64)

    def run(self, space: SpaceRef) -> Run:
        """The run (ingest) that produced a network space: every parameter, JSON parsed."""
        with self._read() as db:
            run_id = self._run_id(self._resolve(db, space))
            hash_col = "p.content_hash" if "content_hash" in self._columns["probe_set"] else "NULL"
            run_cols = ", ".join(f"r.{c}" if c in self._columns["run"] else "NULL" for c in ("top_images", "model_sha256"))
            row = db.execute(
                "SELECT r.id, n.name, r.model_path, r.layer, r.device, r.software_version, r.seed, r.tau, r.params,"
                " r.preprocessing, r.timings, r.started_at, r.finished_at, r.images_used, r.images_skipped,"
                " r.filter_count, r.act_height, r.act_width, p.name, p.path, p.image_count, p.mask_height,"
                " p.mask_width, p.categories, " + hash_col + ", " + run_cols +
                " FROM run r JOIN network n ON n.id = r.network_id JOIN probe_set p ON p.id = r.probe_set_id"
                " WHERE r.id = ?", (run_id,)).fetchone()
        if row is None:
            raise CatalogError(f"catalog {self.path}: run {run_id} is missing", self.path)
        probe = dict(zip(("name", "path", "image_count", "mask_height", "mask_width", "categories", "content_hash"),
                         row[18:25]))
        probe["categories"] = _json(probe["categories"])
        return Run(id=row[0], network=row[1], model_path=row[2], layer=row[3], device=row[4],
                   software_version=row[5], seed=row[6], tau=row[7], params=_json(row[8]),
                   preprocessing=_json(row[9]), timings=_json(row[10]), started_at=row[11], finished_at=row[12],
                   images_used=row[13], images_skipped=row[14], filter_count=row[15], act_height=row[16],
                   act_width=row[17], probe_set=probe, top_images=row[25], model_sha256=row[26])

    # -- per-image results --

    def image_iou(self, space: SpaceRef, concept: str) -> List[ImageIou]:
        """Segmentation: the IoU of every val image of a concept, learned and best single
        filter, by index.csv row ([] in other spaces)."""
        with self._read() as db:
            s = self._resolve(db, space)
            eid, _ = self._embedding_id(db, s, concept)
            return [ImageIou(row=r, path=p, learned=lv, single=sv) for r, p, lv, sv in db.execute(
                "SELECT p.row, p.path, i.learned, i.single FROM image_iou i JOIN probe_image p"
                " ON p.id = i.probe_image_id WHERE i.embedding_id = ? ORDER BY p.row", (eid,))]

    def predicted_masks(self, space: SpaceRef, concept: str) -> List[PredictedMask]:
        """Segmentation, schema version 4: the masks predicted on the concept's decile images
        (sql/004_predicted_masks.sql), unpacked to boolean arrays; [] when none are stored."""
        np = _numpy()
        with self._read() as db:
            s = self._resolve(db, space)
            eid, _ = self._embedding_id(db, s, concept)
            if "predicted_mask" not in self._tables:
                return []
            rows = db.execute("SELECT p.row, p.path, m.height, m.width, m.learned, m.single FROM predicted_mask m"
                              " JOIN probe_image p ON p.id = m.probe_image_id WHERE m.embedding_id = ?"
                              " ORDER BY p.row", (eid,)).fetchall()

        def unpack(blob: bytes, h: int, w: int):
            if len(blob) != (h * w + 7) // 8:
                raise CatalogError(f"catalog {self.path}: space {s.id}, concept '{concept}': a predicted mask of "
                                   f"{len(blob)} bytes for {h} x {w}", self.path)
            bits = np.unpackbits(np.frombuffer(blob, dtype=np.uint8), bitorder="little")
            return bits[:h * w].reshape(h, w).astype(bool)

        return [PredictedMask(row=r, path=p, learned=unpack(lb, h, w), single=unpack(sb, h, w))
                for r, p, h, w, lb, sb in rows]
