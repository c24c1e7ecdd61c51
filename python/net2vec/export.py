"""Export a torchvision model, or any torch.nn.Module, as a TorchScript module for net2vec.

The written file follows the contract of docs/MODELS.md: forward(x) takes an N x C x H x W
float tensor (C = 3, or 1 for a one-channel model), already preprocessed, and returns a
Dict[str, Tensor] with the N x K x H x W activations of the chosen layers, converted inside
the module from the layer's own layout; attributes net2vec_layers (List[str], forward
order), net2vec_preprocessing (str, JSON) and net2vec_export (str, JSON: how it was made).

Layers are named by the model's own names: torch.fx node names as
torchvision.models.feature_extraction.get_graph_node_names gives them in eval mode
(layer4.1.conv2, features.29, stem.0) or module names (layer3, encoder.layers.encoder_layer_11;
a module stands for its last operation). --list-layers prints them all with their shapes.
"""

import argparse
import difflib
import hashlib
import importlib.util
import json
import os
import sys
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
import torch.fx
from torch import nn

from ._layouts import (MAX_AUTO_PREFIX_TOKENS, Layout, LayerRequest, LayoutError,
                       Net2VecModule, auto_description, decide_layout, family_of, fmt_shape,
                       parse_grid, parse_layers, to_nchw_reference)

TOOL = "net2vec-export"
VERSION = "0.1.0"

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
LUMINANCE = (0.299, 0.587, 0.114)  # what net2vec feeds a one-channel model

#: torchvision models whose builders take transform_input / aux_logits (weights from TF).
_TRANSFORM_INPUT_MODELS = ("googlenet", "inception_v3")
_AUX_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")

METHODS = ("auto", "fx-script", "fx-trace", "hooks")


class ExportError(Exception):
    """An error reported to the user as one message (exit code 1)."""


def _close(name: str, names: Sequence[str], n: int = 6) -> List[str]:
    return difflib.get_close_matches(name, list(names), n=n, cutoff=0.5)


def _first(items: Sequence[str], n: int = 5) -> str:
    items = list(items)
    more = f", ... ({len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


# ------------------------------------------------------------------------------------------
# Model sources and weights
# ------------------------------------------------------------------------------------------

@dataclass
class Source:
    model: nn.Module
    label: str                       # for messages: "resnet50", "net.py:build"
    source: Dict[str, str]           # recorded in net2vec_export
    weights: str                     # recorded in net2vec_export
    transforms: Optional[Dict] = None  # {"size": (h, w), "mean": [...], "std": [...]}
    notes: List[str] = field(default_factory=list)


def torchvision_models() -> List[str]:
    import torchvision
    return list(torchvision.models.list_models())


def _weights_transforms(weights) -> Optional[Dict]:
    """crop size, mean and std of a torchvision weights entry's transforms()."""
    try:
        t = weights.transforms()
    except Exception:  # noqa: BLE001 - weights without transforms
        return None
    size = getattr(t, "crop_size", None) or getattr(t, "resize_size", None)
    if isinstance(size, (list, tuple)):
        size = (int(size[0]), int(size[-1])) if size else None
    elif isinstance(size, int):
        size = (size, size)
    mean = [float(v) for v in getattr(t, "mean", IMAGENET_MEAN)]
    std = [float(v) for v in getattr(t, "std", IMAGENET_STD)]
    return {"size": size, "mean": mean, "std": std, "name": str(weights)}


def _default_weights(name: str):
    import torchvision
    try:
        return torchvision.models.get_model_weights(name).DEFAULT
    except Exception:  # noqa: BLE001 - no weights registered for this model
        return None


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _read_weights(path: str):
    if not os.path.isfile(path):
        raise ExportError(f"--weights: file {path} does not exist")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001
        msg = str(e).strip().splitlines()[0] if str(e).strip() else ""
        hint = ""
        if "constant" in msg.lower() or "archive" in msg.lower() or "PytorchStreamReader" in msg:
            hint = (" (a TorchScript file from torch.jit.save is already an exported model: "
                    "net2vec loads it as is if it returns a dict of 4-D layers)")
        raise ExportError(f"--weights: cannot read {path} with torch.load "
                          f"({type(e).__name__}: {msg}){hint}") from None
    return obj


def _as_state_dict(obj, path: str) -> Dict[str, torch.Tensor]:
    if isinstance(obj, nn.Module):
        return obj.state_dict()
    if isinstance(obj, dict):
        # Common checkpoint wrappers: {"state_dict": ...}, {"model": ...}, ...
        for key in ("state_dict", "model_state_dict", "model", "net", "module"):
            inner = obj.get(key)
            if isinstance(inner, nn.Module):
                return inner.state_dict()
            if isinstance(inner, dict) and inner and all(
                    isinstance(v, torch.Tensor) for v in inner.values()):
                obj = inner
                break
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            keys = list(obj.keys())
            if all(k.startswith("module.") for k in keys):  # saved from DataParallel
                obj = OrderedDict((k[len("module."):], v) for k, v in obj.items())
            return obj
    raise ExportError(f"--weights: {path} holds a {type(obj).__name__}, not a state dict "
                      "(a dict of tensors, e.g. torch.save(model.state_dict(), FILE)) nor a "
                      "saved nn.Module")


def load_weights(model: nn.Module, obj, path: str, label: str) -> None:
    """Loads a state dict (or a saved module's) into `model`; a clear error when it does not
    fit: missing and unexpected keys and shape mismatches, the first few of each."""
    state = _as_state_dict(obj, path)
    own = model.state_dict()
    if not any(isinstance(m, nn.Module) and n.startswith(("aux1", "aux2", "AuxLogits"))
               for n, m in model.named_children()):
        state = OrderedDict((k, v) for k, v in state.items() if not k.startswith(_AUX_PREFIXES))
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    mismatch = [(k, tuple(state[k].shape), tuple(own[k].shape))
                for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or mismatch:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing key(s): {_first(missing)}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected key(s): {_first(unexpected)}")
        if mismatch:
            parts.append(f"{len(mismatch)} shape mismatch(es): " + _first(
                [f"{k} (file {fmt_shape(a)}, model {fmt_shape(b)})" for k, a, b in mismatch]))
        hint = ""
        if mismatch and all(len(b) in (1, 2) for _, _, b in mismatch) and len(mismatch) <= 2:
            hint = (" - a classifier fine-tuned to another number of classes? pass "
                    f"--num-classes {mismatch[0][1][0]}")
        raise ExportError(f"weights {path} do not fit {label}: " + "; ".join(parts) + hint)
    for k in own:
        if k not in state:  # num_batches_tracked of an older checkpoint
            state[k] = own[k]
    model.load_state_dict(state, strict=True)


def _torchvision_kwargs(name: str, args, random: bool) -> Dict:
    kwargs: Dict = {}
    if args.num_classes is not None:
        kwargs["num_classes"] = args.num_classes
    if name in _TRANSFORM_INPUT_MODELS:
        # No auxiliary classifiers (eval mode never runs them); torchvision wants
        # init_weights set explicitly for a random initialisation.
        kwargs["aux_logits"] = False
        kwargs["init_weights"] = random
        ti = {"auto": None, "yes": True, "no": False}[args.transform_input]
        if ti is None and not random:
            ti = True  # the ImageNet weights (pretrained, or a state dict of them) need it
        kwargs["transform_input"] = bool(ti)
    return kwargs


def source_from_torchvision(name: str, args, listing: bool) -> Source:
    import torchvision
    names = torchvision_models()
    if name not in names:
        close = _close(name, names)
        raise ExportError(
            f"--torchvision: no model '{name}' in torchvision {torchvision.__version__}"
            + (f"; did you mean: {', '.join(close)}?" if close else "")
            + " (all names: python3 -c 'import torchvision; "
              "print(torchvision.models.list_models())')")
    default = _default_weights(name)
    transforms = _weights_transforms(default) if default is not None else None
    random = args.random_weights or (listing and not args.weights)
    kwargs = _torchvision_kwargs(name, args, random=random and not args.weights)
    if args.weights:
        kwargs = _torchvision_kwargs(name, args, random=False)
    src = Source(model=None, label=name, source={"torchvision": name},  # type: ignore[arg-type]
                 weights="", transforms=transforms)
    build = lambda w: torchvision.models.get_model(name, weights=w, **kwargs)  # noqa: E731
    if random:
        torch.manual_seed(args.seed)
        src.model = build(None)
        src.weights = f"random (torch.manual_seed({args.seed}))"
        if listing and not args.random_weights:
            src.notes.append("weights not loaded for --list-layers (shapes do not need them)")
    elif args.weights:
        torch.manual_seed(args.seed)
        src.model = build(None)
        obj = _read_weights(args.weights)
        load_weights(src.model, obj, args.weights, name)
        src.weights = f"file {os.path.abspath(args.weights)} (sha256 {_sha256(args.weights)})"
    else:
        if default is None:
            raise ExportError(f"torchvision has no pretrained weights for {name}; pass "
                              "--weights FILE or --random-weights")
        try:
            src.model = build(default)
        except Exception as e:  # noqa: BLE001 - urllib errors, missing cache, ...
            cache = os.path.join(torch.hub.get_dir(), "checkpoints")
            url = getattr(default, "url", "?")
            raise ExportError(
                f"cannot get the pretrained weights {default} of {name} "
                f"({type(e).__name__}: {str(e).strip()[:200]}).\n"
                f"torchvision downloads them from {url} into {cache} "
                f"($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints). "
                f"Without internet access: copy {os.path.basename(url)} into that folder, or "
                f"pass --weights FILE (a state dict of this model), or --random-weights "
                f"(meaningless activations, for tests)") from None
        src.weights = f"torchvision {default}"
    if name in _TRANSFORM_INPUT_MODELS:
        src.source["transform_input"] = str(bool(kwargs.get("transform_input"))).lower()
    return src


def _load_file_module(path: str):
    if not os.path.isfile(path):
        raise ExportError(f"--module: file {path} does not exist")
    stem = os.path.splitext(os.path.basename(path))[0]
    modname = f"net2vec_user_{stem}".replace("-", "_").replace(".", "_")
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise ExportError(f"--module: cannot import {path} (not a Python file?)")
    module = importlib.util.module_from_spec(spec)
    folder = os.path.dirname(os.path.abspath(path))
    sys.path.insert(0, folder)  # the file's own imports of its neighbours
    sys.modules[modname] = module  # so that torch.load can unpickle its classes
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001
        sys.modules.pop(modname, None)
        raise ExportError(f"--module: importing {path} failed: {type(e).__name__}: {e}") from None
    finally:
        if sys.path and sys.path[0] == folder:
            sys.path.pop(0)
    return module


def source_from_module(spec_text: str, args) -> Source:
    path, sep, fn_name = spec_text.rpartition(":")
    if not sep or not path or not fn_name:
        raise ExportError(f"--module wants FILE.py:CALLABLE (a function in FILE.py that returns "
                          f"an nn.Module), got '{spec_text}'")
    module = _load_file_module(path)
    fn = getattr(module, fn_name, None)
    if fn is None or not callable(fn):
        callables = [n for n, v in vars(module).items()
                     if callable(v) and not n.startswith("_")
                     and getattr(v, "__module__", None) == module.__name__]
        close = _close(fn_name, callables)
        what = "no callable" if fn is None else "not callable:"
        raise ExportError(
            f"--module: {path} has {what} '{fn_name}'"
            + (f"; did you mean: {', '.join(close)}?" if close else "")
            + (f" (its functions and classes: {_first(callables, 10)})" if callables else ""))
    torch.manual_seed(args.seed)
    try:
        model = fn()
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"--module: {path}:{fn_name}() failed: {type(e).__name__}: {e}") from None
    if isinstance(model, torch.jit.ScriptModule):
        raise ExportError(f"--module: {path}:{fn_name}() returned a TorchScript module; give "
                          "the plain nn.Module (layers are captured with torch.fx or hooks)")
    if not isinstance(model, nn.Module):
        raise ExportError(f"--module: {path}:{fn_name}() returned {type(model).__name__}, "
                          "not a torch.nn.Module")
    label = f"{os.path.basename(path)}:{fn_name}"
    src = Source(model=model, label=label,
                 source={"module": os.path.abspath(path), "callable": fn_name},
                 weights=f"as returned by {label}")
    if args.random_weights:
        src.weights = f"random (as initialised by {label} after torch.manual_seed({args.seed}))"
    elif args.weights:
        load_weights(model, _read_weights(args.weights), args.weights, label)
        src.weights = f"file {os.path.abspath(args.weights)} (sha256 {_sha256(args.weights)})"
    return src


def source_from_saved_module(args) -> Source:
    obj = _read_weights(args.weights)
    if not isinstance(obj, nn.Module):
        raise ExportError(f"--weights {args.weights} is not a saved nn.Module "
                          f"(it holds a {type(obj).__name__}); with a state dict also give "
                          "--torchvision NAME or --module FILE.py:CALLABLE")
    return Source(model=obj, label=os.path.basename(args.weights),
                  source={"saved_module": os.path.abspath(args.weights)},
                  weights=f"file {os.path.abspath(args.weights)} (sha256 {_sha256(args.weights)})")


def prepare_model(model: nn.Module) -> nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    # Out-of-place activations: an in-place op after a returned layer would overwrite it
    # (the captured outputs are cloned as well).
    for m in model.modules():
        if isinstance(getattr(m, "inplace", None), bool):
            m.inplace = False
    return model


# ------------------------------------------------------------------------------------------
# Capturing layers: torch.fx graph (node names) or forward hooks (module names)
# ------------------------------------------------------------------------------------------

class _Recorder(torch.fx.Interpreter):
    """Runs a traced graph node by node, keeping shapes (or clones) of tensor outputs."""

    def __init__(self, gm, want=None, clone=False):
        super().__init__(gm)
        self.want, self.clone, self.values = want, clone, {}

    def run_node(self, n):
        result = super().run_node(n)
        if isinstance(result, torch.Tensor) and (self.want is None or n in self.want):
            self.values[n] = result.detach().clone() if self.clone else tuple(result.shape)
        return result


class FxCapture:
    """The model traced by torchvision's NodePathTracer in eval mode (node names as
    get_graph_node_names(model)[1] gives them)."""

    def __init__(self, model: nn.Module):
        from torchvision.models import feature_extraction as fe
        try:
            kwargs = fe._set_default_tracer_kwargs(None)
        except AttributeError:  # pragma: no cover - other torchvision versions
            kwargs = {}
        tracer = fe.NodePathTracer(**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            graph = tracer.trace(model)
        self.gm = torch.fx.GraphModule(tracer.root, graph, type(model).__name__)
        self.nodes = [n for n in self.gm.graph.nodes
                      if n.op not in ("placeholder", "output") and n in tracer.node_to_qualname]
        self.qual = {n: tracer.node_to_qualname[n] for n in self.nodes}
        self.index = {n: i for i, n in enumerate(self.gm.graph.nodes)}
        self.shapes: Dict = {}

    def run_shapes(self, x: torch.Tensor) -> None:
        rec = _Recorder(self.gm)
        with torch.no_grad():
            rec.run(x)
        self.shapes = rec.values

    def resolve(self, name: str):
        """The node of `name`: an exact node name, or the last node under a module name."""
        found = None
        for n in self.nodes:
            q = self.qual[n]
            if q == name or q.startswith(name + "."):
                found = n
        return found

    def listing(self) -> List[Tuple[str, Tuple[int, ...]]]:
        """(name, shape) of every tensor node and of every module prefix (at its last node),
        in forward order."""
        last = {}
        for n in self.nodes:
            parts = self.qual[n].split(".")
            for i in range(1, len(parts)):
                last[".".join(parts[:i])] = n
        after: Dict = {}
        for prefix, n in last.items():
            after.setdefault(n, []).append(prefix)
        out = []
        for n in self.nodes:
            if n in self.shapes and len(self.shapes[n]) > 0:
                out.append((self.qual[n], self.shapes[n]))
                for prefix in sorted(after.get(n, []), key=lambda p: -p.count(".")):
                    if prefix != self.qual[n]:
                        out.append((prefix, self.shapes[n]))
        return out

    def body(self, targets: List[Tuple[str, object]]) -> nn.Module:
        """A GraphModule returning {key: clone of node} for targets, truncated after the last
        one. The clone right after each node keeps later in-place ops from changing it."""
        g = torch.fx.Graph()
        env: Dict = {}
        g.graph_copy(self.gm.graph, env)
        clones: Dict = {}
        outputs = {}
        for key, node in targets:
            new = env[node]
            if new not in clones:
                with g.inserting_after(new):
                    clones[new] = g.call_method("clone", (new,))
            outputs[key] = clones[new]
        g.output(outputs)
        body = torch.fx.GraphModule(self.gm, g, "Net2VecBody")
        body.graph.eliminate_dead_code()
        body.recompile()
        body.delete_all_unused_submodules()
        return body

    def reference(self, x: torch.Tensor, targets: List[Tuple[str, object]]):
        rec = _Recorder(self.gm, want={n for _, n in targets}, clone=True)
        with torch.no_grad():
            rec.run(x)
        return {key: rec.values[n] for key, n in targets}


class HookCapture:
    """Forward hooks on named submodules, for models torch.fx cannot trace (or module names
    inside fx leaf modules)."""

    def __init__(self, model: nn.Module):
        self.model = model
        self.modules = OrderedDict((n, m) for n, m in model.named_modules() if n)
        self.shapes: Dict[str, Tuple[int, ...]] = {}
        self.order: List[str] = []          # completion order of the first call
        self.calls: Dict[str, int] = {}
        self.start: Dict[str, int] = {}     # event index of the first call's start
        self.end: Dict[str, int] = {}       # event index of the last call's end

    def run_shapes(self, x: torch.Tensor) -> None:
        events = [0]
        handles = []
        shapes, order, calls, start, end = {}, [], {}, {}, {}

        def pre(name):
            def hook(_m, _inp):
                events[0] += 1
                start.setdefault(name, events[0])
            return hook

        def post(name):
            def hook(_m, _inp, out):
                events[0] += 1
                end[name] = events[0]
                calls[name] = calls.get(name, 0) + 1
                if name not in shapes:
                    order.append(name)
                shapes[name] = tuple(out.shape) if isinstance(out, torch.Tensor) else None
            return hook

        for name, m in self.modules.items():
            handles.append(m.register_forward_pre_hook(pre(name)))
            handles.append(m.register_forward_hook(post(name)))
        try:
            with torch.no_grad():
                self.model(x)
        finally:
            for h in handles:
                h.remove()
        self.shapes = {k: v for k, v in shapes.items() if v is not None}
        self.order = [n for n in order if n in self.shapes]
        self.calls, self.start, self.end = calls, start, end

    def listing(self) -> List[Tuple[str, Tuple[int, ...]]]:
        return [(n, self.shapes[n]) for n in self.order if len(self.shapes[n]) > 0]

    def run_outputs(self, x: torch.Tensor, targets: List[Tuple[str, str]],
                    model: Optional[nn.Module] = None) -> Dict[str, torch.Tensor]:
        model = model or self.model
        mods = dict(model.named_modules())
        store: Dict[str, torch.Tensor] = {}
        handles = [mods[name].register_forward_hook(_store_hook(store, key))
                   for key, name in targets]
        try:
            with torch.no_grad():
                model(x)
        finally:
            for h in handles:
                h.remove()
        return {key: store[key] for key, _ in targets}

    def truncate(self, names: Sequence[str], x: torch.Tensor, targets) -> List[str]:
        """Replaces the modules that only run after the last requested layer by nn.Identity
        (smaller files, faster forward); undone where the forward then fails or changes the
        requested outputs. Returns the replaced module names."""
        last_end = max(self.end[n] for n in names)
        keep_prefixes = set()
        for n in names:
            parts = n.split(".")
            keep_prefixes.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        replaced: List[Tuple[nn.Module, str, nn.Module, str]] = []
        for name, m in self.modules.items():
            if name in keep_prefixes or name not in self.start:
                continue
            if self.start[name] <= last_end:
                continue
            if any(name.startswith(r + ".") for _, _, _, r in replaced):
                continue
            parent_name, _, attr = name.rpartition(".")
            parent = self.model.get_submodule(parent_name) if parent_name else self.model
            replaced.append((parent, attr, m, name))
        if not replaced:
            return []
        with torch.no_grad():
            expected = self.run_outputs(x, targets)
        for parent, attr, _m, _ in replaced:
            setattr(parent, attr, nn.Identity())
        ok = False
        try:
            got = self.run_outputs(x, targets)
            ok = all(torch.equal(got[k], expected[k]) for k in expected)
        except Exception:  # noqa: BLE001 - the rest of the forward needs those modules
            ok = False
        if not ok:
            self.restore(replaced)
            return []
        self._replaced = replaced
        return [name for _, _, _, name in replaced]

    def restore(self, replaced=None) -> None:
        for parent, attr, m, _ in (replaced if replaced is not None
                                   else getattr(self, "_replaced", [])):
            setattr(parent, attr, m)
        self._replaced = []


def _store_hook(store: Dict[str, torch.Tensor], key: str):
    def hook(_m, _inp, out):
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"module output is a {type(out).__name__}, not a tensor")
        store[key] = out.clone()
    return hook


class _HookBody(nn.Module):
    """Runs the model and returns the requested submodules' outputs (cloned when produced);
    traced with torch.jit.trace(strict=False)."""

    def __init__(self, model: nn.Module, targets: List[Tuple[str, str]]):
        super().__init__()
        self.model = model
        self.targets = list(targets)

    def forward(self, x):
        store: Dict[str, torch.Tensor] = {}
        mods = dict(self.model.named_modules())
        handles = [mods[name].register_forward_hook(_store_hook(store, key))
                   for key, name in self.targets]
        try:
            self.model(x)
        finally:
            for h in handles:
                h.remove()
        return {key: store[key] for key, _ in self.targets}


def _trace(module: nn.Module, x: torch.Tensor) -> torch.jit.ScriptModule:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            return torch.jit.trace(module, (x,), strict=False, check_trace=False)


# ------------------------------------------------------------------------------------------
# The export
# ------------------------------------------------------------------------------------------

def _input_size(text: str) -> Tuple[int, int]:
    text = text.strip()
    if text.isdigit() and int(text) > 0:
        return int(text), int(text)
    try:
        return parse_grid(text, "--input-size")
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e} (or one number N for N x N)") from None


def _floats(text: str) -> List[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got '{text}'") from None


def _probe(run: Callable[[torch.Tensor], None], label: str, channels: Optional[int],
           h: int, w: int) -> int:
    """Runs the model once on zeros at the input size; returns the channel count (3, or 1
    when only a one-channel input works and --channels was not given)."""
    tries = [channels] if channels else [3, 1]
    errors = []
    for c in tries:
        try:
            run(torch.zeros(1, c, h, w))
            return c
        except Exception as e:  # noqa: BLE001
            errors.append((c, e))
    def last_line(e):
        lines = str(e).strip().splitlines()  # torch.fx appends "While executing ..."
        return f"{type(e).__name__}: {(lines[0] if lines else '')[:300]}"
    c, e = errors[0]
    also = (f"; nor on 1 x 1 x {h} x {w} ({last_line(errors[1][1])})" if len(errors) > 1
            else "")
    raise ExportError(
        f"{label} does not run on a 1 x {c} x {h} x {w} input ({last_line(e)}){also}. "
        "Check --input-size (e.g. torchvision's ViTs need exactly their image size, 224) "
        "and --channels")


def make_preprocessing(args, src: Source, channels: int, size: Tuple[int, int]) -> Dict:
    t = src.transforms or {}
    mean = list(args.mean) if args.mean else list(t.get("mean", IMAGENET_MEAN))
    std = list(args.std) if args.std else list(t.get("std", IMAGENET_STD))
    for what, vals in (("--mean", mean), ("--std", std)):
        if len(vals) not in (1, 3):
            raise ExportError(f"{what} takes 1 or 3 numbers, got {len(vals)}")
    if any(s == 0 for s in std):
        raise ExportError("--std must not be zero")
    if channels == 1:
        # One number each: the luminance-weighted mean/std unless given as one number.
        mean = [mean[0]] if len(mean) == 1 else [sum(a * b for a, b in zip(LUMINANCE, mean))]
        std = [std[0]] if len(std) == 1 else [sum(a * b for a, b in zip(LUMINANCE, std))]
    else:
        mean = mean * 3 if len(mean) == 1 else mean
        std = std * 3 if len(std) == 1 else std
    prep = {"height": size[0], "width": size[1], "channel_order": args.channel_order,
            "scale": args.scale if args.scale is not None else 1.0 / 255.0,
            "mean": mean, "std": std}
    if channels == 1:
        prep["channels"] = 1
    return prep


@dataclass
class ExportResult:
    path: Optional[str]
    layers: List[str]
    layouts: List[Layout]
    shapes: List[Tuple[int, int, int]]
    method: str
    preprocessing: Dict
    export_info: Dict
    seconds: float = 0.0
    file_bytes: int = 0


def _build_source(args, listing: bool) -> Source:
    if args.torchvision:
        return source_from_torchvision(args.torchvision, args, listing)
    if args.module:
        return source_from_module(args.module, args)
    return source_from_saved_module(args)


def _resolve(requests: List[LayerRequest], fx: Optional[FxCapture], hooks: HookCapture,
             label: str, method: str):
    """Maps each request to a graph node (fx) or a module name (hooks). Returns (mode,
    targets) with mode 'fx' or 'hooks'."""
    fx_targets, hook_names, unknown = {}, {}, []
    for r in requests:
        node = fx.resolve(r.name) if fx is not None else None
        if node is not None and node not in fx.shapes and r.name not in hooks.shapes:
            raise ExportError(f"layer '{r.name}' of {label} does not output a tensor "
                              f"(node {fx.qual[node]}: {node.op} {node.target}); pick another "
                              "(--list-layers)")
        if node is not None and node not in fx.shapes:
            node = None
        if node is not None:
            fx_targets[r.key] = node
        if r.name in hooks.shapes:
            hook_names[r.key] = r.name
        if node is None and r.name not in hooks.shapes:
            unknown.append(r.name)
    if unknown:
        names = [n for n, _ in (fx.listing() if fx is not None else [])] + hooks.order
        names = list(OrderedDict.fromkeys(names))
        lines = []
        for u in unknown:
            close = _close(u, names)
            if u in hooks.modules and u not in hooks.shapes:
                lines.append(f"'{u}' is a module of {label} that does not run in eval mode "
                             "or does not return a tensor")
            else:
                lines.append(f"no layer '{u}' in {label}"
                             + (f"; closest: {', '.join(close)}" if close else ""))
        raise ExportError("; ".join(lines) + f" (all {len(names)} names: --list-layers)")
    want_fx = method in ("fx-script", "fx-trace") or (
        method == "auto" and fx is not None and len(fx_targets) == len(requests))
    if want_fx:
        if fx is None:
            raise ExportError(f"--method {method}: torch.fx cannot trace {label}")
        missing = [r.name for r in requests if r.key not in fx_targets]
        if missing:
            raise ExportError(f"--method {method}: {', '.join(missing)} are not torch.fx nodes "
                              f"of {label} (module names inside fx leaf modules need --method "
                              "hooks)")
        return "fx", [(r.key, fx_targets[r.key]) for r in requests]
    missing = [r.name for r in requests if r.key not in hook_names]
    if missing:
        raise ExportError(
            f"{_first(missing)}: not module names of {label}, and the other layers need forward "
            "hooks (" + ("torch.fx cannot trace this model" if fx is None else
                         "they are modules inside torch.fx leaf modules")
            + "): pick module names (--list-layers) or nodes only")
    multi = [r.name for r in requests if hooks.calls.get(r.name, 0) > 1]
    if multi:
        raise ExportError(f"module(s) {', '.join(multi)} run more than once in {label}'s "
                          "forward: hooks cannot tell the calls apart (with torch.fx, the "
                          "calls are separate nodes)")
    return "hooks", [(r.key, hook_names[r.key]) for r in requests]


def export(args, log=print) -> ExportResult:
    """Runs the export described by parsed arguments (see build_parser)."""
    t0 = time.time()
    listing = bool(args.list_layers)
    src = _build_source(args, listing)
    model = prepare_model(src.model)
    family = family_of(model)
    size = args.input_size or ((src.transforms or {}).get("size") or (224, 224))
    h, w = size

    fx, fx_error = None, None
    if args.method in ("auto", "fx-script", "fx-trace"):
        try:
            fx = FxCapture(model)
        except Exception as e:  # noqa: BLE001 - e.g. vit_b_16: "Proxy object cannot be iterated"
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            fx_error = f"{type(e).__name__}: {first.split('. ')[0][:160]}"
            if args.method != "auto":
                raise ExportError(f"--method {args.method}: torch.fx cannot trace {src.label} "
                                  f"({fx_error})") from None
    hooks = HookCapture(model)

    def run_all(x):
        if fx is not None:
            fx.run_shapes(x)
        hooks.run_shapes(x)
    channels = _probe(run_all, src.label, args.channels, h, w)

    if listing:
        entries = fx.listing() if fx is not None else []
        seen = {n for n, _ in entries}
        extra = [(n, s) for n, s in hooks.listing() if n not in seen]
        if extra:  # module names inside fx leaf modules: before their leaf ancestor
            pos = {n: i for i, (n, _) in enumerate(entries)}
            merged: Dict[int, list] = {}
            tail = []
            for n, s in extra:
                parts = n.split(".")
                anc = next((".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1)
                            if ".".join(parts[:i]) in pos), None)
                (merged.setdefault(pos[anc], []) if anc is not None else tail).append((n, s))
            out = []
            for i, e in enumerate(entries):
                out.extend(merged.get(i, []))
                out.append(e)
            entries = out + tail
        how = "torch.fx nodes and module names" if fx is not None else (
            "module names (forward hooks; "
            + (f"torch.fx cannot trace it: {fx_error})" if fx_error else "--method hooks)"))
        log(f"# {src.label}: {len(entries)} layers, {how}; shapes at input 1 x {channels} x "
            f"{h} x {w}" + "".join(f"; {n}" for n in src.notes))
        log("# name  shape  auto-layout  KxHxW")
        width = max((len(n) for n, _ in entries), default=4)
        for name, shape in entries:
            lay, khw = auto_description(shape, family, args.prefix_tokens, args.grid)
            log(f"{name:<{width}}  {fmt_shape(shape):<16}  {lay:<14}  {khw}")
        return ExportResult(None, [n for n, _ in entries], [], [], "list", {}, {})

    if not args.layers:
        raise ExportError("--layers is required (the names: --list-layers)")
    try:
        requests = parse_layers(args.layers)
    except ValueError as e:
        raise ExportError(str(e)) from None
    mode, targets = _resolve(requests, fx, hooks, src.label, args.method)

    shape_of = {}
    for key, t in targets:
        shape_of[key] = fx.shapes[t] if mode == "fx" else hooks.shapes[t]
    layouts = []
    for r in requests:
        try:
            layouts.append(decide_layout(r, shape_of[r.key], family, args.prefix_tokens,
                                         args.grid))
        except LayoutError as e:
            raise ExportError(str(e)) from None
    # Forward order.
    rank = {}
    for i, (key, t) in enumerate(targets):
        rank[key] = (fx.index[t], i) if mode == "fx" else (hooks.end[t], i)
    order = sorted(range(len(requests)), key=lambda i: rank[requests[i].key])
    requests = [requests[i] for i in order]
    layouts = [layouts[i] for i in order]
    targets = [targets[i] for i in order]
    names = [r.key for r in requests]

    prep = make_preprocessing(args, src, channels, (h, w))
    x1 = torch.randn(1, channels, h, w, generator=torch.Generator().manual_seed(args.seed))
    method, body, notes = None, None, list(src.notes)
    errors = []
    if mode == "fx":
        gm = fx.body(targets)
        if args.method in ("auto", "fx-script"):
            try:
                body = torch.jit.script(gm)
                method = "fx-script"
            except Exception as e:  # noqa: BLE001
                errors.append(f"torch.jit.script: {type(e).__name__}: "
                              f"{str(e).strip().splitlines()[0][:200]}")
        if body is None and args.method in ("auto", "fx-trace"):
            try:
                body = _trace(gm, x1)
                method = "fx-trace"
            except Exception as e:  # noqa: BLE001
                errors.append(f"torch.jit.trace: {type(e).__name__}: {str(e)[:200]}")
        reference = lambda x: fx.reference(x, targets)  # noqa: E731
        if body is None:
            raise ExportError(f"cannot export {src.label}: " + "; ".join(errors))
    else:
        replaced = hooks.truncate([t for _, t in targets], x1, targets)
        if replaced:
            notes.append(f"{len(replaced)} module(s) after the last layer left out "
                         f"({_first(replaced, 3)})")
        try:
            body = _trace(_HookBody(model, targets), x1)
        except Exception as e:  # noqa: BLE001
            raise ExportError(f"cannot export {src.label} with forward hooks + torch.jit.trace: "
                              f"{type(e).__name__}: {str(e)[:300]}") from None
        finally:
            hooks.restore()
        method = "hooks-trace"
        reference = lambda x: hooks.run_outputs(x, targets)  # noqa: E731
        if fx_error:
            notes.append(f"torch.fx cannot trace it ({fx_error}): forward hooks on modules")

    map_shapes = [lay.map_shape(shape_of[r.key]) for r, lay in zip(requests, layouts)]
    info = {
        "tool": TOOL, "version": VERSION,
        "torch": torch.__version__, "torchvision": _torchvision_version(),
        "source": src.source, "weights": src.weights, "method": method,
        "input": [channels, h, w],
        "layers": [{"name": n, "node": (fx.qual[t] if mode == "fx" else t),
                    "requested": r.name, "layout": lay.spec(),
                    "raw_shape": list(shape_of[r.key][1:]), "shape": list(khw)}
                   for n, r, lay, khw, (_, t) in zip(names, requests, layouts, map_shapes,
                                                     targets)],
    }
    wrapper = Net2VecModule(body, names, layouts, json.dumps(prep), json.dumps(info))
    try:
        scripted = torch.jit.script(wrapper)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"cannot script the net2vec wrapper around {src.label}: "
                          f"{type(e).__name__}: {str(e)[:300]}") from None
    out_dir = os.path.dirname(os.path.abspath(args.out))
    if not os.path.isdir(out_dir):
        raise ExportError(f"--out: folder {out_dir} does not exist")
    scripted.save(args.out)
    result = ExportResult(args.out, names, layouts, map_shapes, method, prep, info)
    if not args.no_check:
        check(args.out, names, layouts, reference, channels, h, w, args.seed)
    result.seconds = time.time() - t0
    result.file_bytes = os.path.getsize(args.out)
    width = max(len(n) for n in names)
    for n, lay, khw, r in zip(names, layouts, map_shapes, requests):
        alias = f" (= {r.name})" if r.alias else ""
        log(f"  {n:<{width}}  {fmt_shape(khw):<14}  {lay.spec()}{alias}")
    for note in notes:
        log(f"  note: {note}")
    log(f"wrote {args.out} ({src.label}, {method}, {result.file_bytes / 1e6:.1f} MB, "
        f"input {channels} x {h} x {w}, {'checked' if not args.no_check else 'not checked'}, "
        f"{result.seconds:.1f} s)")
    return result


def _torchvision_version() -> str:
    try:
        import torchvision
        return torchvision.__version__
    except ImportError:  # pragma: no cover
        return ""


def check(path: str, names: List[str], layouts: List[Layout], reference, channels: int,
          h: int, w: int, seed: int = 0) -> None:
    """Reloads the file and compares every layer with the unexported model on a random
    batch of 2 (a batch size other than the one traced with)."""
    loaded = torch.jit.load(path)
    got_names = list(loaded.net2vec_layers)
    if got_names != names:
        raise ExportError(f"check: {path} lists layers {got_names}, expected {names}")
    json.loads(loaded.net2vec_preprocessing)
    x = torch.randn(2, channels, h, w, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        out = loaded(x)
        ref = reference(x)
    if list(out.keys()) != names:
        raise ExportError(f"check: {path} returns {list(out.keys())}, expected {names}")
    for name, lay in zip(names, layouts):
        t = out[name]
        r = to_nchw_reference(ref[name], lay).float()
        if t.dim() != 4 or t.dtype != torch.float32:
            raise ExportError(f"check: layer {name} is {t.dim()}-D {t.dtype}, not 4-D float32")
        if tuple(t.shape) != tuple(r.shape):
            raise ExportError(f"check: layer {name} is {fmt_shape(t.shape)} after export, "
                              f"{fmt_shape(r.shape)} in the model")
        scale = max(1.0, float(r.abs().max()))
        if not torch.allclose(t, r, rtol=1e-4, atol=1e-5 * scale):
            diff = float((t - r).abs().max())
            raise ExportError(f"check: layer {name} differs after export (max abs difference "
                              f"{diff:.3g}, values up to {scale:.3g}); --no-check skips this")


# ------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------

EPILOG = f"""\
layers (--layers, comma-separated, or the option repeated):
  [ALIAS=]NAME[:LAYOUT]
  NAME     a torch.fx node name (as get_graph_node_names gives in eval mode: layer4.1.conv2,
           layer1.0.add, features.29) or a module name (layer3,
           encoder.layers.encoder_layer_11: the module's last operation); --list-layers
           prints them all
  ALIAS=   the name written to the file (default: NAME, dots included)
  LAYOUT   how the output becomes N x K x H x W, converted inside the exported module:
    auto            (default) 4-D: nchw (for Swin and ConvNeXt, which keep some maps
                    channels-last: nhwc when the last dim, not dim 1, is a channel count of
                    the model); 3-D N x T x D: tokens with an h x h grid, h = floor(sqrt(T)),
                    and P = T - h*h prefix tokens, only if P <= {MAX_AUTO_PREFIX_TOKENS} (else
                    refused); 2-D: vector; any other rank is refused
    nchw            N x K x H x W as is
    nhwc            N x H x W x K, permuted
    tokens[:P[:HxW]]
                    N x (P + H*W) x D: the first P tokens (class, distillation, register
                    tokens) dropped, token P + y*W + x -> position (y, x); P or HxW left
                    out: from --prefix-tokens / --grid, else derived (tokens::3x5 gives the
                    grid only)
    vector          N x D -> N x D x 1 x 1 (classification spaces only)

weights (torchvision models):
  default          the pretrained weights (get_model_weights(NAME).DEFAULT); torchvision
                   downloads them into $TORCH_HOME/hub/checkpoints (default
                   ~/.cache/torch/hub/checkpoints): internet access or the file there
  --weights FILE   a state dict (torch.save(model.state_dict(), FILE); also {{"state_dict":
                   ...}} checkpoints, DataParallel "module." keys, a saved nn.Module)
  --random-weights torch.manual_seed(--seed) initialisation (tests: meaningless activations)

preprocessing (net2vec_preprocessing): for torchvision models the weights' own transforms:
  height = width = crop size, mean, std, scale 1/255, RGB. net2vec resizes the WHOLE probe
  image to height x width (no resize-then-crop), so that the concept masks stay aligned.
  --input-size, --mean, --std, --scale, --channel-order override; a model whose input has
  one channel (detected, or --channels 1) gets "channels": 1 and one mean/std number
  (default: the luminance-weighted ImageNet values); net2vec feeds it the luminance
  0.299 R + 0.587 G + 0.114 B.

capture (--method): auto = torch.fx + torch.jit.script, the graph cut after the last layer;
  else torch.jit.trace of the fx graph; models torch.fx cannot trace (torchvision 0.14's
  ViTs) use forward hooks on modules, traced (module names only; modules that run after
  the last layer are left out of the file when the forward allows it).
The written file is reloaded and each layer compared with the model (--no-check skips).

examples:
  net2vec-export --torchvision resnet50 --list-layers
  net2vec-export --torchvision resnet50 --layers layer3,layer4 --out resnet50.pt
  net2vec-export --torchvision vgg16 --weights vgg16.pth --layers features.29 --out vgg16.pt
  net2vec-export --torchvision swin_t --random-weights --layers features.5 --out swin_t.pt
  net2vec-export --torchvision vit_b_16 --layers encoder.layers.encoder_layer_11 --out vit.pt
  net2vec-export --torchvision alexnet --layers conv5=features.11 --input-size 227 --out a.pt
  net2vec-export --module mynet.py:build --weights ckpt.pth \\
      --layers blocks.3:nhwc,blocks.11:tokens:1:14x14,head:vector --out mynet.pt
  net2vec-export --module deit.py:make --layers blocks.11:tokens --prefix-tokens 2 \\
      --grid 14x14 --out deit.pt

exit status: 0 written (or listed), 1 export error (message on stderr), 2 bad arguments.
See docs/MODELS.md.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=TOOL,
        usage=f"{TOOL} (--torchvision NAME | --module FILE.py:CALLABLE) "
              "[--weights FILE | --random-weights] (--list-layers | --layers SPEC,... "
              "--out FILE.pt) [options]",
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[2],
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_argument_group("model")
    src.add_argument("--torchvision", metavar="NAME",
                     help="a model of torchvision.models.list_models(): resnet50, vgg16, "
                          "densenet121, convnext_tiny, efficientnet_b0, swin_t, vit_b_16, ...")
    src.add_argument("--module", metavar="FILE.py:CALLABLE",
                     help="a function (or class) in your own file that returns the nn.Module")
    src.add_argument("--num-classes", type=int, metavar="N",
                     help="torchvision models: the classifier size of a fine-tuned --weights")
    src.add_argument("--transform-input", choices=("auto", "yes", "no"), default="auto",
                     help="googlenet, inception_v3: convert ImageNet-normalised input to the "
                          "[-1, 1] range of their TensorFlow-trained weights inside the module "
                          "(auto: yes except with --random-weights)")
    wg = p.add_argument_group("weights").add_mutually_exclusive_group()
    wg.add_argument("--weights", metavar="FILE",
                    help="state dict or saved nn.Module (alone: a saved nn.Module is the model)")
    wg.add_argument("--random-weights", action="store_true",
                    help="random initialisation after torch.manual_seed(--seed)")
    p.add_argument("--seed", type=int, default=0, help="torch seed (default 0)")
    lg = p.add_argument_group("layers")
    lg.add_argument("--layers", action="append", metavar="SPEC,...",
                    help="layers to export: [ALIAS=]NAME[:LAYOUT] (below)")
    lg.add_argument("--list-layers", action="store_true",
                    help="print every layer name with its output shape at the input size, "
                         "the layout auto picks and the resulting K x H x W, then exit")
    lg.add_argument("--prefix-tokens", type=int, metavar="P",
                    help="tokens layouts (and auto on 3-D outputs): P prefix tokens")
    lg.add_argument("--grid", type=lambda s: parse_grid(s, "--grid"), metavar="HxW",
                    help="tokens layouts (and auto on 3-D outputs): the token grid")
    lg.add_argument("--method", choices=METHODS, default="auto",
                    help="how layers are captured (default auto: fx-script, fx-trace, hooks)")
    pg = p.add_argument_group("preprocessing")
    pg.add_argument("--input-size", type=_input_size, metavar="N|HxW",
                    help="network input size (default: the weights' crop size, else 224)")
    pg.add_argument("--channels", type=int, choices=(1, 3),
                    help="input channels (default: 3, or 1 if only a one-channel input runs)")
    pg.add_argument("--mean", type=_floats, metavar="M[,M,M]", help="normalisation mean")
    pg.add_argument("--std", type=_floats, metavar="S[,S,S]", help="normalisation std")
    pg.add_argument("--scale", type=float, help="pixel scale (default 1/255)")
    pg.add_argument("--channel-order", choices=("RGB", "BGR"), default="RGB")
    og = p.add_argument_group("output")
    og.add_argument("--out", metavar="FILE.pt", help="TorchScript file to write")
    og.add_argument("--no-check", action="store_true",
                    help="do not reload the file and compare it with the model")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.torchvision and args.module:
        parser.error("give one of --torchvision and --module")
    if not args.torchvision and not args.module and not args.weights:
        parser.error("give --torchvision NAME or --module FILE.py:CALLABLE "
                     "(or --weights with a saved nn.Module)")
    if not args.list_layers and not args.out:
        parser.error("--out FILE.pt is required (unless --list-layers)")
    if not args.list_layers and not args.layers:
        parser.error("--layers is required (unless --list-layers, which prints the names)")
    if args.prefix_tokens is not None and args.prefix_tokens < 0:
        parser.error("--prefix-tokens must be >= 0")
    if args.layers:
        try:
            parse_layers(args.layers)
        except ValueError as e:
            parser.error(str(e))
    return args


def main(argv=None) -> int:
    try:
        args = parse_args(argv)
    except SystemExit as e:  # --help, usage errors: keep main() callable from Python
        return e.code if isinstance(e.code, int) else 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", FutureWarning)
            export(args)
    except ExportError as e:
        print(f"{TOOL}: error: {e}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # --list-layers | head
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
