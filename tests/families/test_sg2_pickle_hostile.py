"""Released-format pickles built to exhaust CPU or memory or to change the loader for later
loads (issue 19): each is refused with one line naming what was refused, within counted
limits, and a legitimate load afterwards in the same process gives identical output."""
from __future__ import annotations

import pickle

import pytest
import torch

from inrgan_export.core.errors import CheckpointError, ConfigError
from inrgan_export.families.sg2 import pickle_import as pi
from inrgan_export.families.sg2.pickle_import import (
    LIMITS, PickleLimitError, PickleLimits, RestrictedUnpickler, init_kwargs, load_network_pickle, module_tensors, plain,
    read_pickle,
)

from .. import hostile_inputs as hi
from ..conftest import DATA


@pytest.fixture(scope="module")
def reference():
    """The legitimate fixture, loaded before any hostile file."""
    ckpt = load_network_pickle(DATA / "sg2" / "tiny.pkl")
    return ckpt.config, {k: v.clone() for k, v in ckpt.state_dict.items()}


def assert_legitimate_load_unchanged(reference) -> None:
    config, state = reference
    again = load_network_pickle(DATA / "sg2" / "tiny.pkl")
    assert again.config == config
    assert again.state_dict.keys() == state.keys()
    assert all(torch.equal(again.state_dict[k], v) for k, v in state.items())


def _one_line(err: BaseException) -> str:
    text = str(err)
    assert "\n" not in text and len(text) < 600, text
    return text


# ------------------------------------------------------------------ shared references, cycles, depth
def test_shared_reference_dag_in_init_kwargs_is_counted_not_copied(tmp_path, reference):
    for levels in (24, 40):
        path = hi.pickle_kwargs_dag(tmp_path / f"dag{levels}.pkl", levels)
        with pytest.raises(PickleLimitError, match="max_config_values=100,000") as err:
            load_network_pickle(path)
        assert str(path) in _one_line(err.value)
        assert_legitimate_load_unchanged(reference)
    # the walk visits each shared list once: its memo holds one entry per level, and the
    # count it stopped at is just past the limit (2**40 values would be a copy of the DAG)
    walk = pi._Plain(PickleLimits(max_config_values=10**13))  # a limit it cannot reach: count it all
    result = walk(hi.shared_dag(40), 0, "")
    assert walk.count == 2 ** 41 - 1 + 2 ** 40  # expanded size: every list once per reference, plus the leaves
    assert len(walk.memo) == 41
    assert result[0] is result[1]  # the result shares the converted node as the input did


def test_shared_module_and_self_containing_modules_are_refused(tmp_path, reference):
    path = hi.pickle_modules_dag(tmp_path / "mdag.pkl", 40)
    with pytest.raises(CheckpointError, match=r"module fork\.a\.a.*is the same object as module fork\.a") as err:
        load_network_pickle(path)
    _one_line(err.value)
    assert_legitimate_load_unchanged(reference)
    path = hi.pickle_self_modulelist(tmp_path / "selfml.pkl")
    with pytest.raises(CheckpointError, match=r"module loop\.0 is the same object as module loop"):
        load_network_pickle(path)
    assert_legitimate_load_unchanged(reference)


def test_self_referencing_list_and_deep_list(tmp_path, reference):
    path = hi.pickle_self_list(tmp_path / "selflist.pkl")
    with pytest.raises(CheckpointError, match=r"contain themselves: a list at cfg\.junk\[1\] is inside itself"):
        load_network_pickle(path)
    assert_legitimate_load_unchanged(reference)
    path = hi.pickle_deep_list(tmp_path / "deep.pkl", 5000)
    with pytest.raises(PickleLimitError, match=f"nest deeper than max_depth={LIMITS.max_depth}") as err:
        load_network_pickle(path)
    _one_line(err.value)
    assert_legitimate_load_unchanged(reference)


def test_module_tree_limits_are_counted(tmp_path):
    data = read_pickle(DATA / "sg2" / "tiny.pkl")
    g = data["G_ema"]
    tensors = module_tensors(g)
    with pytest.raises(PickleLimitError, match="max_modules=3"):
        module_tensors(g, limits=PickleLimits(max_modules=3))
    with pytest.raises(PickleLimitError, match="max_depth=1"):
        module_tensors(g, limits=PickleLimits(max_depth=1))
    assert len(tensors) > 10
    kwargs = init_kwargs(g)
    with pytest.raises(PickleLimitError, match="max_config_values=10"):
        init_kwargs(g, limits=PickleLimits(max_config_values=10))
    assert plain(kwargs) == kwargs  # plain data converts to itself


def test_interpolation_dag_is_bounded(tmp_path, reference):
    path = hi.pickle_interp_dag(tmp_path / "interp.pkl", 40)
    with pytest.raises(ConfigError, match="expands to more than 100,000 values once its interpolations are resolved"):
        load_network_pickle(path)
    assert_legitimate_load_unchanged(reference)


# ------------------------------------------------------------------ bytes actually stored
def test_stride0_tensor_declaring_gigabytes_is_refused_before_copying(tmp_path, reference):
    path = hi.pickle_stride0(tmp_path / "stride0.pkl", 16384)
    assert path.stat().st_size < 400_000
    with pytest.raises(PickleLimitError, match=r"size \(16384, 16384\) with strides \(0, 0\): 268,435,456 elements that its storage does not back") as err:
        load_network_pickle(path)
    _one_line(err.value)
    assert_legitimate_load_unchanged(reference)


def test_storages_may_not_hold_more_than_the_file(tmp_path, reference):
    """One storage blob loaded 50 times through the pickle memo would be 50 copies of it."""
    import io
    import warnings

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage: what the released files pickle
        torch.save(torch.zeros(50_000).storage(), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()  # what torch.storage._load_from_bytes reads
    ops = bytearray(b"\x80\x02](")
    ops += b"B" + len(blob).to_bytes(4, "little") + blob + b"q\x01"  # BINBYTES, memo 1
    for _ in range(50):
        ops += b"ctorch.storage\n_load_from_bytes\nh\x01\x85R"  # GLOBAL, BINGET 1, TUPLE1, REDUCE
    ops += b"e."
    path = tmp_path / "reuse.pkl"
    path.write_bytes(bytes(ops))
    size = path.stat().st_size
    with open(path, "rb") as f:
        up = RestrictedUnpickler(f, size)
        with pytest.raises(PickleLimitError, match="more than the file's"):
            up.load()
    assert up.stored_bytes == 2 * len(blob) > size  # the first load passed, the second was refused before loading
    assert_legitimate_load_unchanged(reference)


def test_declared_lengths_are_checked_before_reading(tmp_path):
    # BINBYTES8 declaring 2**40 bytes in a 20-byte file
    path = tmp_path / "len.pkl"
    path.write_bytes(b"\x80\x04\x8e" + (2 ** 40).to_bytes(8, "little") + b"xx.")
    with pytest.raises(CheckpointError, match=r"declares 1,099,511,627,776 bytes, only 3 remain"):
        read_pickle(path)
    # protocol-5 out-of-band buffers allocate from the header: refused outright
    path.write_bytes(b"\x80\x05\x96" + (2 ** 40).to_bytes(8, "little") + b".")
    with pytest.raises(CheckpointError, match="protocol-5"):
        read_pickle(path)


def test_copies_by_container_constructors_are_counted(tmp_path):
    ops = bytearray(b"\x80\x02](")
    ops += b"K\x01" * 1000 + b"eq\x01"  # a list of 1000 ints, memo 1
    ops += b"]("
    for _ in range(2000):  # 2000 OrderedDict-free set() copies of it: 2,000,000 items
        ops += b"cbuiltins\nset\nh\x01\x85R"
    ops += b"e."
    path = tmp_path / "copies.pkl"
    path.write_bytes(bytes(ops))
    with open(path, "rb") as f:
        up = RestrictedUnpickler(f, path.stat().st_size)
        with pytest.raises(PickleLimitError, match="max_copied_items=1,000,000"):
            up.load()
    assert LIMITS.max_copied_items < up.copied_items <= LIMITS.max_copied_items + 1000


# ------------------------------------------------------------------ the loader cannot be changed
def test_build_on_what_find_class_hands_out_is_refused_and_changes_nothing(tmp_path, reference):
    defaults, name = pi._rebuild_parameter.__defaults__, pi._rebuild_parameter.__name__
    path = hi.pickle_build_poison(tmp_path / "poison.pkl")
    with pytest.raises(CheckpointError, match="refusing BUILD on torch._utils._rebuild_parameter") as err:
        read_pickle(path)
    _one_line(err.value)
    assert pi._rebuild_parameter.__defaults__ == defaults and pi._rebuild_parameter.__name__ == name
    assert_legitimate_load_unchanged(reference)
    # each BUILD on its own (a type reference's name, its class, a stand-in class's method)
    for module, attr, state in (
        ("typing", "Any", (None, {"qualname": "poisoned"})),
        ("builtins", "dict", (None, {"__class__": hi.Global("omegaconf.nodes", "AnyNode")})),
        ("numpy", "dtype", (None, {"dtype": None})),
        ("builtins", "dict", {"qualname": "poisoned"}),
    ):
        path.write_bytes(b"\x80\x02" + hi._build_on(module, attr, state) + b"N.")
        with pytest.raises(CheckpointError, match=f"refusing BUILD on {module}.{attr}"):
            read_pickle(path)
        assert type(pi.ALLOWED["builtins.dict"]) is pi.TypeRef
        assert pi.ALLOWED["typing.Any"].qualname == "typing.Any" and pi.ALLOWED["builtins.dict"].qualname == "builtins.dict"
        assert pi.NumpyDType.dtype is not None
    assert_legitimate_load_unchanged(reference)


def test_stand_ins_are_sealed_even_outside_the_unpickler():
    with pytest.raises(AttributeError):
        pi.ALLOWED["typing.Any"].qualname = "x"
    with pytest.raises(AttributeError):
        pi.ALLOWED["typing.Any"].__class__ = pi.EasyDict
    with pytest.raises(AttributeError):
        pi.NumpyDType.dtype = None
    with pytest.raises(AttributeError):
        pi.ALLOWED["omegaconf.nodes.AnyNode"].qualname = "x"


def test_the_c_unpickler_would_have_been_poisoned():
    """Why the pure-Python unpickler: the C one applies the same file's BUILDs to shared
    objects (here on a throw-away type reference, so the suite's loader stays intact)."""
    victim = type("Victim", (), {})()
    victim.qualname = "builtins.dict"

    class C(pickle.Unpickler):
        def find_class(self, module, name):
            return victim

    C(__import__("io").BytesIO(b"\x80\x02" + hi._build_on("x", "y", (None, {"qualname": "poisoned"})) + b"N.")).load()
    assert victim.qualname == "poisoned"


def test_storage_blob_declaring_more_than_it_holds_is_refused_before_allocating():
    """torch's legacy loader allocates the numel of a storage's persistent id before reading
    its data: a 200-byte blob may not declare 4 GB."""
    import io
    import warnings

    from torch.serialization import MAGIC_NUMBER, PROTOCOL_VERSION

    def blob(numel: int) -> bytes:
        marker = object()

        class P(pickle.Pickler):
            def persistent_id(self, obj):
                return ("storage", torch.FloatStorage, "0", "cpu", numel, None) if obj is marker else None

        buf = io.BytesIO()
        for obj in (MAGIC_NUMBER, PROTOCOL_VERSION, {"protocol_version": PROTOCOL_VERSION, "little_endian": True,
                                                       "type_sizes": {"short": 2, "int": 4, "long": 4}}):
            pickle.dump(obj, buf, protocol=2)
        P(buf, protocol=2).dump(marker)
        pickle.dump(["0"], buf, protocol=2)
        buf.write((4).to_bytes(8, "little") + bytes(16))
        return buf.getvalue()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert pi._load_storage(blob(4)).size() == 4  # the honest blob loads
        before = __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss
        with pytest.raises(PickleLimitError, match=r"declares 4,000,000,000 bytes in a \d+-byte blob; refused before allocating"):
            pi._load_storage(blob(10**9))
    assert __import__("resource").getrusage(__import__("resource").RUSAGE_SELF).ru_maxrss - before < 50 * 1024
