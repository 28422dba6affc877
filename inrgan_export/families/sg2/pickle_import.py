"""Read StyleGAN2-ADA network pickles (the authors' released ``*.pkl``) without running them.

Their files are plain pickles of a dict (``G``, ``D``, ``G_ema``, ``augment_pipe``,
``training_set_kwargs``). Every network object in them is written by
``torch_utils.persistence``: a call ``_reconstruct_persistent_obj(meta)`` whose ``meta`` holds
the *source code* of the class's module (``module_src``), the class name, and the object's
state (``__dict__``: parameters, buffers, submodules, init arguments, OmegaConf configs,
caches). Loading such a file the usual way executes that source.

:class:`RestrictedUnpickler` resolves only the globals on an explicit allow-list, each to an
inert stand-in or to a checked rebuild function:

* ``_reconstruct_persistent_obj`` → :class:`PersistentObject` (class name, state, and the
  SHA-256 of ``module_src``; the source is never compiled or executed);
* tensors → ``torch._utils._rebuild_tensor_v2`` / ``_rebuild_parameter`` after type and bounds
  checks; their storages (``torch.storage._load_from_bytes``) through
  ``torch.load(weights_only=True)``, torch's safe path;
* OmegaConf configs, ``dnnlib.util.EasyDict``, ``torch.nn.ModuleList``, NumPy scalars and
  dtypes, ``typing.Any`` and a few builtin types → inert records or plain values.

Anything else (``os.system``, ``builtins.eval``, ``subprocess.Popen``…) stops the load with
one line naming the global; nothing in the file runs. The generator is then rebuilt from what
the file records: its init arguments give the architecture (:class:`SG2Config`), its
parameters and buffers the weights, loaded strictly into our model.
"""
from __future__ import annotations

import hashlib
import io
import pickle
import re
import warnings
from collections import OrderedDict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from ...errors import CheckpointError, ConfigError
from .config import SG2Config

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version of StyleGAN2-ADA
#: buffers of their modules that the FMM generator never reads (upfirdn2d filters)
UNUSED_BUFFERS = ("resample_filter",)
#: ``Generator.__init__``'s positional parameters, for pickles that record positional args
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs", "cfg")


# ------------------------------------------------------------------ stand-ins
class PersistentObject:
    """A persistence-format object, rebuilt as data: never an instance of its class."""

    def __init__(self, class_name: str, state: dict, module_sha256: str, version: int) -> None:
        self.class_name = class_name
        self.state = state
        self.module_sha256 = module_sha256
        self.version = version

    def __repr__(self) -> str:
        return f"<persistent {self.class_name}>"


class Inert:
    """An allow-listed non-persistent class (an OmegaConf node, a ModuleList, …): its
    constructor arguments and pickled state are kept as data, nothing else happens."""

    qualname = "?"
    args: tuple = ()  # NEWOBJ creates instances without calling __init__
    state: Any = None

    def __init__(self, *args: Any) -> None:
        self.args = args
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<inert {self.qualname}>"


def _inert(qualname: str) -> type[Inert]:
    return type(qualname.rsplit(".", 1)[1], (Inert,), {"qualname": qualname})


class EasyDict(dict):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access)."""

    def __setstate__(self, state: Any) -> None:  # pickled __dict__ of a dict subclass: empty
        pass


class TypeRef:
    """A type named by the pickle (``typing.Any``, ``builtins.dict``) kept as a name only."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise CheckpointError(f"the pickle calls {self.qualname}, which a network pickle never does")

    def __repr__(self) -> str:
        return self.qualname


class NumpyDType:
    """Stand-in for ``numpy.dtype(spec, align, copy)`` restricted to numeric scalar types."""

    _SPEC = re.compile(r"^[<>=|]?[fiub][1248]$")

    def __init__(self, spec: Any, align: Any = False, copy: Any = True) -> None:
        if not isinstance(spec, str) or not self._SPEC.match(spec):
            raise CheckpointError(f"the pickle holds a numpy dtype {spec!r}; only numeric dtypes are accepted")
        self.spec = spec
        self.byteorder = "<"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "=", "|"):
            self.byteorder = state[1]

    def dtype(self) -> np.dtype:
        order = "" if self.spec[0] in "<>=|" else ("=" if self.byteorder == "|" else self.byteorder)
        return np.dtype(order + self.spec)


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, NumpyDType) or not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("the pickle holds a numpy scalar that is not a plain number")
    dt = dtype.dtype()
    if len(data) != dt.itemsize:
        raise CheckpointError(f"the pickle holds a numpy {dt} scalar of {len(data)} bytes")
    return np.frombuffer(bytes(data), dtype=dt)[0].item()


class NumpyArray(Inert):
    """Stand-in for a pickled ``numpy.ndarray`` (numeric dtypes): ``.array`` after BUILD."""

    qualname = "numpy.ndarray"

    def __setstate__(self, state: Any) -> None:
        try:
            _, shape, dtype, fortran, raw = state
        except (TypeError, ValueError):
            raise CheckpointError("the pickle holds a malformed numpy array") from None
        if not isinstance(dtype, NumpyDType) or not isinstance(raw, (bytes, bytearray)):
            raise CheckpointError("the pickle holds a numpy array of a non-numeric dtype")
        dt = dtype.dtype()
        count = int(np.prod(shape)) if len(shape) else 1
        if count * dt.itemsize != len(raw):
            raise CheckpointError("the pickle holds a numpy array whose data does not match its shape")
        self.array = np.frombuffer(bytes(raw), dtype=dt).reshape(shape, order="F" if fortran else "C").copy()


def _numpy_reconstruct(cls: Any, shape: Any = None, dtype: Any = None) -> NumpyArray:
    if not (isinstance(cls, TypeRef) and cls.qualname == "numpy.ndarray"):
        raise CheckpointError("the pickle reconstructs a numpy object that is not an ndarray")
    return NumpyArray()


def _defaultdict(factory: Any = None, *args: Any) -> dict:
    """``collections.defaultdict(dict)`` (OmegaConf's resolver cache) → a plain dict."""
    if factory is not None and not isinstance(factory, TypeRef):
        raise CheckpointError("the pickle builds a defaultdict with a callable factory")
    return dict(*args)


def _load_storage(data: Any) -> Any:
    """``torch.storage._load_from_bytes``: a legacy torch.save blob of one storage, read with
    ``torch.load(weights_only=True)``."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("the pickle passes a non-bytes value to torch.storage._load_from_bytes")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - the safe loader's refusal names the global
        raise CheckpointError(f"a tensor storage in the pickle was refused by torch's safe loader: {_first_line(e)}") from None
    if not isinstance(storage, (torch.storage.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError(f"a tensor storage in the pickle holds a {type(storage).__name__}, not a storage")
    return storage


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False, hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    if not isinstance(storage, (torch.storage.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError("the pickle rebuilds a tensor from something that is not a storage")
    ints = (offset, *size, *stride) if isinstance(size, tuple) and isinstance(stride, tuple) else None
    if ints is None or len(size) != len(stride) or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in ints):
        raise CheckpointError("the pickle rebuilds a tensor with malformed size/stride/offset")
    if hooks:
        raise CheckpointError("the pickle attaches backward hooks to a tensor")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated; it is what the files hold
        n = storage.size() if isinstance(storage, torch.storage.TypedStorage) else storage.nbytes()
    if all(s > 0 for s in size) and offset + sum((s - 1) * st for s, st in zip(size, stride)) >= n:
        raise CheckpointError(f"the pickle rebuilds a tensor of size {tuple(size)} beyond its storage ({n} elements)")
    try:
        return torch._utils._rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"the pickle rebuilds an invalid tensor: {_first_line(e)}") from None


def _rebuild_parameter(data: Any, requires_grad: Any = False, hooks: Any = None, *state: Any) -> torch.Tensor:
    if not isinstance(data, torch.Tensor):
        raise CheckpointError("the pickle rebuilds a parameter from something that is not a tensor")
    if hooks:
        raise CheckpointError("the pickle attaches backward hooks to a parameter")
    return data


def _reconstruct_persistent_obj(meta: Any) -> PersistentObject:
    """``torch_utils.persistence._reconstruct_persistent_obj``, as data: the class source in
    ``meta['module_src']`` is hashed for provenance and never compiled."""
    if not isinstance(meta, dict):
        raise CheckpointError("a persistent object in the pickle has no metadata dict")
    if meta.get("type") != "class":
        raise CheckpointError(f"a persistent object in the pickle has type {meta.get('type')!r}, expected 'class'")
    name, src, state = meta.get("class_name"), meta.get("module_src"), meta.get("state")
    if not isinstance(name, str) or not isinstance(src, str):
        raise CheckpointError("a persistent object in the pickle lacks its class name or module source")
    if state is None:
        state = {}
    if not isinstance(state, dict):
        raise CheckpointError(f"persistent object {name} has a state of type {type(state).__name__}, expected a dict")
    return PersistentObject(name, state, hashlib.sha256(src.encode("utf-8", "surrogatepass")).hexdigest(), meta.get("version"))


_OMEGACONF = (
    "omegaconf.dictconfig.DictConfig",
    "omegaconf.listconfig.ListConfig",
    "omegaconf.nodes.AnyNode",
    "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode",
    "omegaconf.nodes.FloatNode",
    "omegaconf.nodes.BooleanNode",
    "omegaconf.nodes.EnumNode",
    "omegaconf.nodes.BytesNode",
    "omegaconf.nodes.PathNode",
    "omegaconf.nodes.InterpolationResultNode",
    "omegaconf.base.Metadata",
    "omegaconf.base.ContainerMetadata",
)
_TORCH_CONTAINERS = (
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ModuleDict",
    "torch.nn.modules.container.Sequential",
)
_TYPES = ("typing.Any", "numpy.ndarray") + tuple(f"builtins.{t}" for t in ("dict", "list", "tuple", "str", "int", "float", "bool", "object", "bytes"))

#: ``module.name`` → what the unpickler hands back; everything else is refused
ALLOWED: dict[str, Any] = {
    "torch_utils.persistence._reconstruct_persistent_obj": _reconstruct_persistent_obj,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "torch.storage._load_from_bytes": _load_storage,
    "collections.OrderedDict": OrderedDict,
    "collections.defaultdict": _defaultdict,
    "builtins.set": set,
    "builtins.frozenset": frozenset,
    "dnnlib.util.EasyDict": EasyDict,
    "numpy.dtype": NumpyDType,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "numpy.core.multiarray._reconstruct": _numpy_reconstruct,
    "numpy._core.multiarray._reconstruct": _numpy_reconstruct,
    **{q: _inert(q) for q in _OMEGACONF + _TORCH_CONTAINERS},
    **{q: TypeRef(q) for q in _TYPES},
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`ALLOWED` globals and no persistent ids."""

    def find_class(self, module: str, name: str) -> Any:
        qualname = f"{module}.{name}"
        if qualname not in ALLOWED:
            raise CheckpointError(
                f"refusing global {qualname}: it is not on the allow-list of a StyleGAN2-ADA network pickle "
                "(nothing in the file was executed)"
            )
        return ALLOWED[qualname]

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError("the pickle uses persistent ids, which a StyleGAN2-ADA network pickle does not")


def read_pickle(path: str | Path) -> Any:
    """The pickle's top-level object, with every global checked against :data:`ALLOWED`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"network pickle {path} does not exist")
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head[:1] != b"\x80":
            hint = " (a zip file: a torch.save checkpoint, load it as .pt)" if head == b"PK" else ""
            raise CheckpointError(f"{path} is not a pickle{hint}")
        try:
            return RestrictedUnpickler(f).load()
        except CheckpointError as e:
            raise CheckpointError(f"{path}: {e}") from None
        except RecursionError:
            raise CheckpointError(f"{path}: the pickle nests objects too deeply") from None
        except Exception as e:  # noqa: BLE001 - a damaged pickle fails in many ways
            raise CheckpointError(f"{path} is corrupt or not a network pickle: {_first_line(e)}") from None


# ------------------------------------------------------------------ the snapshot
def generator_object(data: Any, path: str | Path, key: str = "G_ema") -> PersistentObject:
    """``G_ema`` of a snapshot dict (what their training loop saves and generate.py loads)."""
    if isinstance(data, PersistentObject):
        obj = data
    elif isinstance(data, dict):
        if key not in data:
            raise CheckpointError(f"{path} has no {key!r} (it holds: {', '.join(map(str, data))})")
        obj = data[key]
    else:
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not a StyleGAN2-ADA snapshot dict")
    if not isinstance(obj, PersistentObject):
        raise CheckpointError(f"{path}: {key} is a {type(obj).__name__}, not a persistent network object")
    if obj.class_name != "Generator":
        raise CheckpointError(f"{path}: {key} is a persistent {obj.class_name}, expected a Generator")
    return obj


def init_kwargs(obj: PersistentObject) -> dict[str, Any]:
    """The generator's recorded constructor arguments as plain data."""
    args = obj.state.get("_init_args", ())
    kwargs = obj.state.get("_init_kwargs", {})
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise CheckpointError("the generator does not record its init arguments (_init_args/_init_kwargs)")
    if len(args) > len(GENERATOR_ARGS):
        raise CheckpointError(f"the generator records {len(args)} positional init arguments; Generator takes {len(GENERATOR_ARGS)}")
    merged = dict(zip(GENERATOR_ARGS, args))
    merged.update(kwargs)
    return {k: plain(v) for k, v in merged.items()}


def plain(value: Any) -> Any:
    """EasyDicts, OmegaConf stand-ins and containers → plain dicts, lists and scalars.
    OmegaConf interpolations stay strings (``${...}``) and are resolved by the config reader."""
    if isinstance(value, Inert) and value.qualname.startswith("omegaconf."):
        return _omegaconf_plain(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise CheckpointError(f"the generator's init arguments hold a {type(value).__name__} ({value!r}), not plain config data")


def _omegaconf_plain(node: Inert) -> Any:
    state = node.state if isinstance(node.state, dict) else {}
    if node.qualname.endswith(("DictConfig", "ListConfig")):
        content = state.get("_content")
        if isinstance(content, dict):
            return {str(k): plain(v) for k, v in content.items()}
        if isinstance(content, list):
            return [plain(v) for v in content]
        return content if isinstance(content, (str, type(None))) else None
    return plain(state.get("_val"))


def module_tensors(obj: Any, prefix: str = "") -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a pickled module tree, by their state-dict names
    (plain attributes such as `_fourier_embs_cache` and `_full_cache` are not among them)."""
    state = obj.state if isinstance(obj, (PersistentObject, Inert)) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"module {prefix.rstrip('.') or 'G_ema'} has no state dict")
    out: dict[str, torch.Tensor] = {}
    skip = state.get("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        entries = state.get(group) or {}
        if not isinstance(entries, dict):
            raise CheckpointError(f"module {prefix.rstrip('.') or 'G_ema'}: {group} is not a dict")
        for name, t in entries.items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
            out[prefix + name] = t
    modules = state.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"module {prefix.rstrip('.') or 'G_ema'}: _modules is not a dict")
    for name, child in modules.items():
        if child is not None:
            out.update(module_tensors(child, f"{prefix}{name}."))
    return out


def generator_weights(obj: PersistentObject) -> dict[str, torch.Tensor]:
    state = module_tensors(obj)
    return {
        k: v.detach().clone().contiguous().to(torch.float32) if v.is_floating_point() else v.clone()
        for k, v in state.items()
        if k.rsplit(".", 1)[-1] not in UNUSED_BUFFERS
    }


def load_network_pickle(path: str | Path):
    """A StyleGAN2-ADA network pickle → our :class:`~inrgan_export.checkpoint.Checkpoint`
    (family `sg2`) holding ``G_ema``; the strict load names any mismatch."""
    from ...hashing import sha256_file
    from ..checkpoint import Checkpoint
    from ..base import AUTHORS_LICENCE_NOTE as LICENCE_NOTE

    path = Path(path)
    data = read_pickle(path)
    obj = generator_object(data, path)
    try:
        cfg = SG2Config.from_init_kwargs(init_kwargs(obj))
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    others = sorted(str(k) for k in data) if isinstance(data, dict) else []
    ckpt = Checkpoint(
        family="sg2",
        config=cfg.to_dict(),
        state_dict=generator_weights(obj),
        provenance={
            "origin": f"G_ema of the StyleGAN2-ADA network pickle {path.name} (authors' src/ implementation)",
            "source_sha256": sha256_file(path),
            "pickle_objects": others,
            "generator_module_src_sha256": obj.module_sha256,
            "persistence_version": obj.version,
            "loaded_with": "restricted unpickler: no pickled code executed",
            "licence": LICENCE_NOTE,
        },
    )
    try:
        ckpt.build()
    except CheckpointError as e:
        raise CheckpointError(f"{path}: G_ema does not match the architecture its init arguments record: {e}") from None
    return ckpt


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return (text.splitlines()[0] if text else type(e).__name__)[:200]
