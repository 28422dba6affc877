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

A file's content can only produce inert data, and only a bounded amount of it. The
unpickler is the pure-Python one (:class:`pickle._Unpickler`) so that its BUILD opcode can be
intercepted: state is applied only to stand-in *instances* this load created, never to what
``find_class`` hands out (rebuild functions, stand-in classes, type references), so a file
cannot change the loader for later loads in the process. Declared lengths are checked against
the bytes left in the file before anything is read; tensor storages may not hold more bytes
than the file, and a tensor may not declare more elements than its storage backs (stride-0
views). The walks over what was unpickled (:func:`plain`, :func:`module_tensors`) detect
cycles, visit a shared node once, and stop at :data:`LIMITS` (nodes, depth) with one line
naming the limit.

Over 400 lines: the restricted unpickler sees every object a network pickle may hold (allow-
list, reconstruction, checks) in one place.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import re
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ...core.errors import CheckpointError, ConfigError
from .config import SG2Config

PERSISTENCE_VERSION = 6  # torch_utils.persistence._version of StyleGAN2-ADA
#: buffers of their modules that the FMM generator never reads (upfirdn2d filters)
UNUSED_BUFFERS = ("resample_filter",)
#: ``Generator.__init__``'s positional parameters, for pickles that record positional args
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs", "cfg")


@dataclass(frozen=True)
class PickleLimits:
    """What one network pickle may make the loader do. Real snapshots stay far below: the
    released generators record a few hundred config values and a few hundred modules, nested
    under ten levels."""

    #: values in the generator's init arguments, counting a shared value once per reference
    max_config_values: int = 100_000
    #: nesting of init arguments and of the module tree
    max_depth: int = 64
    #: modules in the generator's module tree
    max_modules: int = 100_000
    #: items copied by container constructors (``OrderedDict(x)``, ``set(x)``) in one load
    max_copied_items: int = 1_000_000


LIMITS = PickleLimits()


class PickleLimitError(CheckpointError):
    """A network pickle that exceeds :data:`LIMITS` or declares more data than it holds."""


# ------------------------------------------------------------------ stand-ins
class _Sealed(type):
    """Metaclass of the stand-in classes handed to pickles: their attributes cannot be set
    or deleted after creation (a second guard behind the unpickler's BUILD check)."""

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(f"stand-in class {cls.__qualname__} is read-only")

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"stand-in class {cls.__qualname__} is read-only")


class PersistentObject:
    """A persistence-format object, rebuilt as data: never an instance of its class."""

    def __init__(self, class_name: str, state: dict, module_sha256: str, version: int) -> None:
        self.class_name = class_name
        self.state = state
        self.module_sha256 = module_sha256
        self.version = version

    def __repr__(self) -> str:
        return f"<persistent {self.class_name}>"


class Inert(metaclass=_Sealed):
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


class EasyDict(dict, metaclass=_Sealed):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access)."""

    def __setstate__(self, state: Any) -> None:  # pickled __dict__ of a dict subclass: empty
        pass


class TypeRef:
    """A type named by the pickle (``typing.Any``, ``builtins.dict``) kept as a name only;
    immutable, since every load shares it."""

    __slots__ = ("qualname",)

    def __init__(self, qualname: str) -> None:
        object.__setattr__(self, "qualname", qualname)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"type reference {self.qualname} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"type reference {self.qualname} is read-only")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise CheckpointError(f"the pickle calls {self.qualname}, which a network pickle never does")

    def __repr__(self) -> str:
        return self.qualname


class NumpyDType(metaclass=_Sealed):
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
    ``torch.load(weights_only=True)``. The unpickler charges the blob's bytes first."""
    if not isinstance(data, (bytes, bytearray)):
        raise CheckpointError("the pickle passes a non-bytes value to torch.storage._load_from_bytes")
    declared = _declared_storage_bytes(bytes(data))
    if declared > len(data):
        raise PickleLimitError(f"a tensor storage in the pickle declares {declared:,} bytes in a {len(data):,}-byte blob; refused before allocating")
    try:
        storage = torch.load(io.BytesIO(bytes(data)), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - the safe loader's refusal names the global
        raise CheckpointError(f"a tensor storage in the pickle was refused by torch's safe loader: {_first_line(e)}") from None
    if not isinstance(storage, (torch.storage.TypedStorage, torch.UntypedStorage)):
        raise CheckpointError(f"a tensor storage in the pickle holds a {type(storage).__name__}, not a storage")
    if _storage_nbytes(storage) > len(data):
        raise PickleLimitError(f"a tensor storage in the pickle declares {_storage_nbytes(storage):,} bytes in a {len(data):,}-byte blob")
    return storage


#: bytes per element of torch's legacy storage classes (what the blobs name)
_STORAGE_ITEMSIZE = {"Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
                     "Byte": 1, "Bool": 1, "ComplexFloat": 8, "ComplexDouble": 16, "Untyped": 1}


class _StorageScan(pickle._Unpickler):
    """Reads the persistent ids of a legacy torch.save blob (``('storage', cls, key,
    location, numel, view)``) without creating anything: torch's legacy loader allocates
    ``numel`` elements from that tuple before it reads the data."""

    def __init__(self, f: Any) -> None:
        super().__init__(f)
        self.declared = 0

    def find_class(self, module: str, name: str) -> Any:
        if module == "torch" and name.endswith("Storage") and name[: -len("Storage")] in _STORAGE_ITEMSIZE:
            return _STORAGE_ITEMSIZE[name[: -len("Storage")]]
        raise CheckpointError(f"a tensor storage in the pickle is not in torch's safe loader format: it names global {module}.{name}")

    def persistent_load(self, pid: Any) -> Any:
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[4], int) and isinstance(pid[1], int):
            self.declared += max(pid[4], 0) * pid[1]
        return None


def _declared_storage_bytes(blob: bytes) -> int:
    """Bytes the storages of a legacy torch.save blob declare (its 4th pickle's persistent
    ids); a blob that is not that format is left to torch's safe loader to refuse."""
    f = io.BytesIO(blob)
    scan = _StorageScan(f)
    try:
        for _ in range(4):  # magic number, protocol version, sys info, the object
            scan.load()
    except CheckpointError:
        raise
    except Exception:  # noqa: BLE001 - not the legacy layout: torch.load names what it is
        return 0
    return scan.declared


def _storage_nbytes(storage: Any) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated; it is what the files hold
        return storage.nbytes()


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
    numel = 1
    for s in size:
        numel *= s
    if numel > max(n - offset, 0):
        raise PickleLimitError(
            f"the pickle rebuilds a tensor of size {tuple(size)} with strides {tuple(stride)}: {numel:,} elements "
            f"that its storage does not back ({max(n - offset, 0):,} stored from offset {offset}; a stride-0 or overlapping view)"
        )
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


#: globals whose callables copy or allocate: the unpickler hands out per-load wrappers that charge its budget
_CHARGED = ("torch.storage._load_from_bytes", "collections.OrderedDict", "collections.defaultdict", "builtins.set", "builtins.frozenset")
#: stand-in instances that may receive pickled state (BUILD); OrderedDict state (torch's
#: ``_metadata``) is accepted and dropped
_STATEFUL = (Inert, EasyDict, NumpyDType, OrderedDict)


class _BoundedReader:
    """The pickle file, refusing any read longer than what is left in it: a declared length
    is checked before the unpickler allocates for it."""

    def __init__(self, f: Any, size: int) -> None:
        self.f = f
        self.left = size - f.tell()

    def _check(self, n: int) -> None:
        if n > self.left:
            raise PickleLimitError(
                f"the pickle is corrupt or truncated: a value at byte {self.f.tell():,} declares {n:,} bytes, "
                f"only {self.left:,} remain in the file"
            )

    def read(self, n: int = -1) -> bytes:
        n = self.left if n is None or n < 0 else n
        self._check(n)
        data = self.f.read(n)
        self.left -= len(data)
        return data

    def readinto(self, buf: Any) -> int:
        self._check(len(buf))
        got = self.f.readinto(buf)
        self.left -= got
        return got

    def readline(self) -> bytes:
        line = self.f.readline()
        self.left -= len(line)
        return line


class RestrictedUnpickler(pickle._Unpickler):  # the pure-Python one: its opcodes can be intercepted
    """An unpickler that resolves only :data:`ALLOWED` globals and no persistent ids, applies
    pickled state only to stand-in instances it created, and keeps the data it materialises
    within the file's size (:data:`LIMITS` for copies)."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, f: Any, file_bytes: int, limits: PickleLimits = LIMITS) -> None:
        super().__init__(_BoundedReader(f, file_bytes))
        self.limits = limits
        self.file_bytes = file_bytes
        #: bytes of tensor storages and numpy arrays this load materialised
        self.stored_bytes = 0
        #: container items copied by constructors
        self.copied_items = 0
        #: id of what find_class handed out -> (its global name, the object: kept alive so ids stay unique)
        self._names: dict[int, tuple[str, Any]] = {}

    def find_class(self, module: str, name: str) -> Any:
        qualname = f"{module}.{name}"
        if qualname not in ALLOWED:
            raise CheckpointError(
                f"refusing global {qualname}: it is not on the allow-list of a StyleGAN2-ADA network pickle "
                "(nothing in the file was executed)"
            )
        obj = self._charged(qualname) if qualname in _CHARGED else ALLOWED[qualname]
        self._names[id(obj)] = (qualname, obj)
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise CheckpointError("the pickle uses persistent ids, which a StyleGAN2-ADA network pickle does not")

    # -------------------------------------------------------------- budget
    def charge_bytes(self, n: int, what: str) -> None:
        self.stored_bytes += n
        if self.stored_bytes > self.file_bytes:
            raise PickleLimitError(
                f"{what} brings the data the pickle materialises to {self.stored_bytes:,} bytes, more than the "
                f"file's {self.file_bytes:,}: it reuses stored data (refused before allocating)"
            )

    def charge_items(self, n: int, what: str) -> None:
        self.copied_items += n
        if self.copied_items > self.limits.max_copied_items:
            raise PickleLimitError(
                f"{what} brings the container items the pickle copies past max_copied_items={self.limits.max_copied_items:,}"
            )

    def _charged(self, qualname: str) -> Any:
        """A fresh wrapper of an allow-listed callable that copies or allocates."""
        if qualname == "torch.storage._load_from_bytes":
            def load_storage(data: Any) -> Any:
                if isinstance(data, (bytes, bytearray)):
                    self.charge_bytes(len(data), "a tensor storage")
                return _load_storage(data)

            return load_storage
        ctor = {"collections.OrderedDict": OrderedDict, "collections.defaultdict": _defaultdict,
                "builtins.set": set, "builtins.frozenset": frozenset}[qualname]

        def copy(*args: Any) -> Any:
            for a in args:
                if hasattr(a, "__len__"):
                    self.charge_items(len(a), qualname)
            return ctor(*args)

        return copy

    # -------------------------------------------------------------- opcodes
    def load_build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        if id(inst) in self._names or isinstance(inst, type) or not isinstance(inst, _STATEFUL):
            what = self._names[id(inst)][0] if id(inst) in self._names else f"a {type(inst).__name__}"
            raise CheckpointError(
                f"refusing BUILD on {what}: a network pickle sets state only on objects it creates, "
                "never on what the loader hands out (nothing was changed)"
            )
        if isinstance(inst, OrderedDict):
            return
        if isinstance(inst, NumpyArray) and isinstance(state, tuple) and len(state) == 5 and isinstance(state[4], (bytes, bytearray)):
            self.charge_bytes(len(state[4]), "a numpy array")
        inst.__setstate__(state)

    def _refuse_buffers(self) -> None:
        raise CheckpointError("the pickle uses protocol-5 out-of-band buffers, which a StyleGAN2-ADA network pickle does not")

    dispatch[pickle.BUILD[0]] = load_build
    for _op in (pickle.BYTEARRAY8, pickle.NEXT_BUFFER, pickle.READONLY_BUFFER):
        dispatch[_op[0]] = _refuse_buffers
    del _op


def read_pickle(path: str | Path, limits: PickleLimits = LIMITS) -> Any:
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
            return RestrictedUnpickler(f, os.fstat(f.fileno()).st_size, limits).load()
        except CheckpointError as e:
            raise type(e)(f"{path}: {e}") from None
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
            names = [k for k in data if isinstance(k, str)][:12]
            raise CheckpointError(f"{path} has no {key!r} (it holds: {', '.join(n[:40] for n in names)})")
        obj = data[key]
    else:
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not a StyleGAN2-ADA snapshot dict")
    if not isinstance(obj, PersistentObject):
        raise CheckpointError(f"{path}: {key} is a {type(obj).__name__}, not a persistent network object")
    if obj.class_name != "Generator":
        raise CheckpointError(f"{path}: {key} is a persistent {obj.class_name[:60]}, expected a Generator")
    return obj


def init_kwargs(obj: PersistentObject, limits: PickleLimits = LIMITS) -> dict[str, Any]:
    """The generator's recorded constructor arguments as plain data."""
    args = obj.state.get("_init_args", ())
    kwargs = obj.state.get("_init_kwargs", {})
    if not isinstance(args, tuple) or not isinstance(kwargs, dict):
        raise CheckpointError("the generator does not record its init arguments (_init_args/_init_kwargs)")
    if len(args) > len(GENERATOR_ARGS):
        raise CheckpointError(f"the generator records {len(args)} positional init arguments; Generator takes {len(GENERATOR_ARGS)}")
    merged = dict(zip(GENERATOR_ARGS, args))
    merged.update(kwargs)
    return plain(merged, limits)


def plain(value: Any, limits: PickleLimits = LIMITS) -> Any:
    """EasyDicts, OmegaConf stand-ins and containers → plain dicts, lists and scalars.
    OmegaConf interpolations stay strings (``${...}``) and are resolved by the config reader.

    Each container is converted once (a shared one is shared in the result too) and counted
    once per reference, so the result's fully expanded size is at most
    ``limits.max_config_values``; a container inside itself is refused."""
    return _Plain(limits)(value, 0, "")


class _Plain:
    def __init__(self, limits: PickleLimits) -> None:
        self.limits = limits
        self.count = 0  # values of the expanded result so far
        self.memo: dict[int, tuple[Any, int]] = {}  # id -> (converted, expanded size)
        self.active: set[int] = set()

    def add(self, n: int, where: str) -> None:
        self.count += n
        if self.count > self.limits.max_config_values:
            raise PickleLimitError(
                f"the generator's init arguments expand to more than max_config_values={self.limits.max_config_values:,} "
                f"values (shared references, at {where or 'the top'}); refused"
            )

    def __call__(self, value: Any, depth: int, where: str) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            self.add(1, where)
            return value
        key = id(value)
        if key in self.active:
            raise CheckpointError(f"the generator's init arguments contain themselves: a {type(value).__name__} at {where} is inside itself")
        if key in self.memo:
            result, size = self.memo[key]
            self.add(size, where)
            return result
        if depth >= self.limits.max_depth:
            raise PickleLimitError(f"the generator's init arguments nest deeper than max_depth={self.limits.max_depth} (at {where[:120]}...)")
        self.active.add(key)
        before = self.count
        self.add(1, where)
        result = self.convert(value, depth, where)
        self.active.discard(key)
        self.memo[key] = (result, self.count - before)
        return result

    def convert(self, value: Any, depth: int, where: str) -> Any:
        if isinstance(value, Inert) and value.qualname.startswith("omegaconf."):
            state = value.state if isinstance(value.state, dict) else {}
            if value.qualname.endswith(("DictConfig", "ListConfig")):
                content = state.get("_content")
                if isinstance(content, (dict, list, tuple)):
                    return self.convert(content, depth, where)
                return content if isinstance(content, str) else None
            return self(state.get("_val"), depth + 1, where)
        if isinstance(value, dict):
            out = {}
            for k, v in value.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise CheckpointError(f"the generator's init arguments have a key of type {type(k).__name__} at {where or 'the top'}")
                out[k] = self(v, depth + 1, f"{where}.{str(k)[:40]}" if where else str(k)[:40])
            return out
        if isinstance(value, (list, tuple)):
            return [self(v, depth + 1, f"{where}[{i}]") for i, v in enumerate(value)]
        raise CheckpointError(f"the generator's init arguments hold a {type(value).__name__} at {where or 'the top'}, not plain config data")


def module_tensors(obj: Any, prefix: str = "", limits: PickleLimits = LIMITS) -> dict[str, torch.Tensor]:
    """Parameters and persistent buffers of a pickled module tree, by their state-dict names
    (plain attributes such as `_fourier_embs_cache` and `_full_cache` are not among them).

    The modules must form a tree: one that appears twice (a shared or self-containing
    module) is refused, and so is a tree past ``limits.max_modules`` or ``limits.max_depth``."""
    out: dict[str, torch.Tensor] = {}
    seen: dict[int, str] = {}

    def visit(node: Any, prefix: str, depth: int) -> None:
        where = prefix.rstrip(".") or "G_ema"
        where = where if len(where) <= 100 else f"{where[:48]}...{where[-48:]}"
        if id(node) in seen:
            raise CheckpointError(f"module {where} is the same object as module {seen[id(node)]}: a network's modules form a tree")
        if depth > limits.max_depth:
            raise PickleLimitError(f"the module tree nests deeper than max_depth={limits.max_depth} (at {where[:120]}...)")
        if len(seen) >= limits.max_modules:
            raise PickleLimitError(f"the module tree has more than max_modules={limits.max_modules:,} modules")
        seen[id(node)] = where
        state = node.state if isinstance(node, (PersistentObject, Inert)) else None
        if not isinstance(state, dict):
            raise CheckpointError(f"module {where} has no state dict")
        skip = state.get("_non_persistent_buffers_set") or set()
        if not isinstance(skip, (set, frozenset, list, tuple)):
            raise CheckpointError(f"module {where}: _non_persistent_buffers_set is a {type(skip).__name__}")
        for group in ("_parameters", "_buffers"):
            entries = state.get(group) or {}
            if not isinstance(entries, dict):
                raise CheckpointError(f"module {where}: {group} is not a dict")
            for name, t in entries.items():
                if not isinstance(name, str):
                    raise CheckpointError(f"module {where}: {group} has a key of type {type(name).__name__}")
                if t is None or (group == "_buffers" and name in skip):
                    continue
                if not isinstance(t, torch.Tensor):
                    raise CheckpointError(f"{prefix}{name} is a {type(t).__name__}, not a tensor")
                out[prefix + name] = t
        modules = state.get("_modules") or {}
        if not isinstance(modules, dict):
            raise CheckpointError(f"module {where}: _modules is not a dict")
        for name, child in modules.items():
            if not isinstance(name, str):
                raise CheckpointError(f"module {where}: _modules has a key of type {type(name).__name__}")
            if child is not None:
                visit(child, f"{prefix}{name}.", depth + 1)

    visit(obj, prefix, 0)
    return out


def generator_weights(obj: PersistentObject, limits: PickleLimits = LIMITS) -> dict[str, torch.Tensor]:
    """G_ema's tensors, copied. Before copying, the bytes they would take are checked against
    the bytes their storages actually hold (views of one storage cannot multiply it)."""
    state = {k: v for k, v in module_tensors(obj, limits=limits).items() if k.rsplit(".", 1)[-1] not in UNUSED_BUFFERS}
    storages: dict[tuple[int, int], int] = {}
    wanted = 0
    for v in state.values():
        st = v.untyped_storage()
        storages[(st.data_ptr(), st.nbytes())] = st.nbytes()
        wanted += v.numel() * (4 if v.is_floating_point() else v.element_size())
    held = sum(storages.values())
    if wanted > held:
        raise PickleLimitError(
            f"G_ema's tensors would take {wanted:,} bytes but their storages hold {held:,}: tensors reuse the same data; refused before copying"
        )
    return {
        k: v.detach().clone().contiguous().to(torch.float32) if v.is_floating_point() else v.clone()
        for k, v in state.items()
    }


def load_network_pickle(path: str | Path):
    """A StyleGAN2-ADA network pickle → our :class:`~inrgan_export.load.sources.Checkpoint`
    (family `sg2`) holding ``G_ema``; the strict load names any mismatch."""
    from ...core.hashing import sha256_file
    from ..checkpoint import Checkpoint
    from ..base import AUTHORS_LICENCE_NOTE as LICENCE_NOTE

    path = Path(path)
    data = read_pickle(path)
    obj = generator_object(data, path)
    try:
        kwargs = init_kwargs(obj)
        try:
            cfg = SG2Config.from_init_kwargs(kwargs)
        except (TypeError, ValueError, ArithmeticError) as e:  # a number where a section belongs, and the like
            raise ConfigError(f"the generator's init arguments hold a value of the wrong type or range: {_first_line(e)}") from None
        weights = generator_weights(obj)
    except (ConfigError, CheckpointError) as e:
        raise type(e)(f"{path}: {e}") from None
    others = sorted(k[:80] for k in data if isinstance(k, str))[:50] if isinstance(data, dict) else []
    ckpt = Checkpoint(
        family="sg2",
        config=cfg.to_dict(),
        state_dict=weights,
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
