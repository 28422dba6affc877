"""Write network pickles in StyleGAN2-ADA's persistence format from an `sg2` model.

Test fixtures and ``demo`` files: the same layout as the authors' released snapshots
(``G``, ``D``, ``G_ema``, ``augment_pipe``, ``training_set_kwargs``), each network a
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` call whose state is a PyTorch
1.7 module ``__dict__`` (parameters, buffers, submodules, init arguments), with OmegaConf 2.0
``DictConfig`` trees (interpolations kept as ``${...}`` strings), NumPy float64 gains and the
coordinate-feature caches. The module source recorded in ``meta`` is a placeholder (or what the
caller passes): none of the authors' code is embedded.

The pickler emits globals by name (:class:`Global`) without importing them, so nothing of
StyleGAN2-ADA, OmegaConf or dnnlib is needed to write a file; tensors are pickled by torch
itself (``_rebuild_tensor_v2`` over ``torch.storage._load_from_bytes``), as in the real files.
"""
from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from inrgan_export.families.sg2.config import CoordSpec, SG2Config
from inrgan_export.families.sg2.model import CoordFuser, FullyConnectedLayer, SG2Generator, SynthesisBlock, SynthesisLayer, ToRGBLayer

PLACEHOLDER_SRC = "# module source omitted: network pickle written by inrgan-export (sg2 fixture writer)\n"


# ------------------------------------------------------------------ pickle records
class Global:
    """A global ``module.name`` as the pickle names it (never imported here)."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name


class Reduce:
    """``func(*args)`` then, if ``state`` is given, ``BUILD(state)``."""

    def __init__(self, func: Global, args: tuple = (), state: Any = None) -> None:
        self.func, self.args, self.state = func, args, state


class NewObj:
    """``cls.__new__(cls, *args)`` (protocol 2+ objects), then dict items and ``BUILD(state)``."""

    def __init__(self, cls: Global, args: tuple = (), state: Any = None, items: Mapping | None = None) -> None:
        self.cls, self.args, self.state, self.items = cls, args, state, items


class _Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is extensible
    dispatch = dict(pickle._Pickler.dispatch)

    def save_record_global(self, obj: Global) -> None:
        self.save(obj.module)
        self.save(obj.name)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)

    def save_reduce_record(self, obj: Reduce) -> None:
        self.save(obj.func)
        self.save(tuple(obj.args))
        self.write(pickle.REDUCE)
        self.memoize(obj)
        if obj.state is not None:
            self.save(obj.state)
            self.write(pickle.BUILD)

    def save_newobj_record(self, obj: NewObj) -> None:
        self.save(obj.cls)
        self.save(tuple(obj.args))
        self.write(pickle.NEWOBJ)
        self.memoize(obj)  # before the state: OmegaConf nodes refer back to their parents
        if obj.items:
            self._batch_setitems(iter(obj.items.items()))
        if obj.state is not None:
            self.save(obj.state)
            self.write(pickle.BUILD)

    dispatch[Global] = save_record_global
    dispatch[Reduce] = save_reduce_record
    dispatch[NewObj] = save_newobj_record


def dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=4).dump(obj)
    return buf.getvalue()


# ------------------------------------------------------------------ value helpers
_DTYPE = Global("numpy", "dtype")
_SCALAR = Global("numpy.core.multiarray", "scalar")  # numpy 1.x, as in the 2021 files
_ANY = Global("typing", "Any")


def np_float64(x: float) -> Reduce:
    """A ``numpy.float64`` as numpy 1.x pickles it."""
    dtype = Reduce(_DTYPE, ("f8", False, True), (3, "<", None, None, None, -1, -1, 0))
    return Reduce(_SCALAR, (dtype, np.float64(x).tobytes()))


def easydict(d: Mapping[str, Any]) -> NewObj:
    return NewObj(Global("dnnlib.util", "EasyDict"), items=dict(d), state={})


def _resolver_cache() -> Reduce:
    return Reduce(Global("collections", "defaultdict"), (Global("builtins", "dict"),))


class OmegaTree:
    """An OmegaConf 2.0 ``DictConfig`` of a plain dict, as records (``_metadata``, ``_parent``,
    ``_content``); interpolation strings are stored as they are, like OmegaConf does."""

    def __init__(self, value: Mapping[str, Any], parent: "OmegaTree | None" = None, key: Any = None) -> None:
        self.root: OmegaTree = parent.root if parent is not None else self
        self.children: dict[str, Any] = {}
        meta = NewObj(Global("omegaconf.base", "ContainerMetadata"), state={
            "ref_type": _ANY if parent is not None else Global("builtins", "dict"), "object_type": None, "optional": True,
            "key": key, "flags": {}, "resolver_cache": _resolver_cache(), "key_type": None, "element_type": None,
        })
        content: dict[str, Any] = {}
        self.record = NewObj(Global("omegaconf.dictconfig", "DictConfig"), state={
            "_metadata": meta, "_parent": parent.record if parent is not None else None, "_content": content,
        })
        for k, v in value.items():
            if isinstance(v, Mapping):
                child = OmegaTree(v, self, k)
                self.children[k] = child
                content[k] = child.record
            else:
                node_meta = NewObj(Global("omegaconf.base", "Metadata"), state={
                    "ref_type": _ANY, "object_type": None, "optional": True, "key": k, "flags": {},
                    "resolver_cache": _resolver_cache(),
                })
                self.children[k] = v
                content[k] = NewObj(Global("omegaconf.nodes", "AnyNode"), state={
                    "_metadata": node_meta, "_parent": self.record, "_val": v,
                })

    def get(self, path: str) -> "OmegaTree":
        """The sub-config at a dotted path, following ``${...}`` interpolations."""
        node: Any = self
        for part in path.split("."):
            node = node.children[part]
            while isinstance(node, str) and node.startswith("${"):
                node = self.root.get(node[2:-1])
        return node


# ------------------------------------------------------------------ configs
def coord_cfg(spec: CoordSpec) -> dict[str, Any]:
    """A `res_configs` entry: the non-default keys of a CoordSpec."""
    defaults = asdict(CoordSpec(resolution=spec.resolution))
    return {k: v for k, v in asdict(spec).items() if k not in ("resolution", "fallback") and v != defaults[k]}


def generator_config(cfg: SG2Config) -> dict[str, Any]:
    """The generator config dict their train.py records (``OmegaConf.to_container`` of the
    Hydra config, interpolations unresolved), for this architecture."""
    specs = {c.resolution: coord_cfg(c) for c in cfg.coords[1:]}
    groups: dict[str, list[int]] = {}
    for res, d in specs.items():
        groups.setdefault(repr(sorted(d.items())), []).append(res)
    coords: dict[str, Any] = {
        "enabled": True, "per_resolution": cfg.per_resolution, "kernel_size": 1, "coord_dim": 2,
        "fallback": any(c.fallback for c in cfg.coords), "use_full_cache": False,
    }
    res_configs: dict[str, Any] = {}
    for k, (key, members) in enumerate(groups.items()):
        if len(members) > 1:
            coords[f"res_cfg_{k}"] = specs[members[0]]
            res_configs.update({str(r): f"${{coords.res_cfg_{k}}}" for r in members})
        else:
            res_configs[str(members[0])] = specs[members[0]]
    inp = coord_cfg(cfg.coords[0])
    if cfg.input_resolution not in specs:
        res_configs[str(cfg.input_resolution)] = inp
    coords["res_configs"] = dict(sorted(res_configs.items(), key=lambda kv: int(kv[0])))
    if specs.get(cfg.input_resolution, inp) == inp:
        fuser_cfg: Any = "${coords}"
    else:  # the input fuser differs from the blocks' fuser at that resolution
        fuser_cfg = {k: v for k, v in coords.items() if k != "res_configs"} | {"res_configs": {str(cfg.input_resolution): inp}}
    return {
        "fp32": True,
        "upsampling_mode": cfg.upsampling_mode,
        "use_noise": False,
        "fmaps": 1,
        "num_extra_convs": {str(r): n for r, n in cfg.extra_convs},
        "input": {"type": "coords", "resolution": cfg.input_resolution, "coord_fuser_cfg": fuser_cfg},
        "coords": coords,
        "fmm": {"enabled": True, "rank": cfg.fmm_rank, "activation": cfg.fmm_activation, "instance_norm": cfg.instance_norm},
    }


def generator_init_kwargs(cfg: SG2Config) -> dict[str, Any]:
    """`Generator.__init__` keyword arguments as their train.py builds them."""
    mapping = {"num_layers": cfg.mapping_layers}
    if cfg.mapping_activation != "lrelu":
        mapping["activation"] = cfg.mapping_activation
    if cfg.mapping_lr_multiplier != 0.01:
        mapping["lr_multiplier"] = cfg.mapping_lr_multiplier
    if cfg.mapping_layer_features is not None:
        mapping["layer_features"] = cfg.mapping_layer_features
    synthesis: dict[str, Any] = {"channel_base": cfg.channel_base, "channel_max": cfg.channel_max, "num_fp16_res": 0, "conv_clamp": cfg.conv_clamp}
    if cfg.architecture != "skip":
        synthesis["architecture"] = cfg.architecture
    if cfg.layer_activation != "lrelu":
        synthesis["activation"] = cfg.layer_activation
    return {
        "z_dim": cfg.z_dim, "c_dim": cfg.c_dim, "w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution,
        "img_channels": cfg.img_channels, "mapping_kwargs": mapping, "synthesis_kwargs": synthesis,
        "cfg": generator_config(cfg),
    }


# ------------------------------------------------------------------ modules
def _module_state(params: Mapping[str, torch.Tensor | None], buffers: Mapping[str, torch.Tensor | None], modules: Mapping[str, Any]) -> dict[str, Any]:
    """A PyTorch 1.7 ``nn.Module.__dict__``."""
    return {
        "training": False,
        "_parameters": OrderedDict((k, None if v is None else torch.nn.Parameter(v.detach().clone(), requires_grad=False)) for k, v in params.items()),
        "_buffers": OrderedDict((k, None if v is None else v.detach().clone()) for k, v in buffers.items()),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": OrderedDict(),
        "_forward_hooks": OrderedDict(),
        "_forward_pre_hooks": OrderedDict(),
        "_state_dict_hooks": OrderedDict(),
        "_load_state_dict_pre_hooks": OrderedDict(),
        "_modules": OrderedDict(modules),
    }


class _Writer:
    def __init__(self, cfg: SG2Config, module_src: str, caches: bool) -> None:
        self.cfg = cfg
        self.kwargs = generator_init_kwargs(cfg)
        self.gcfg = self.kwargs["cfg"]
        self.src = module_src
        self.caches = caches
        self.gen = torch.Generator().manual_seed(7)

    def persistent(self, class_name: str, state: dict, args: tuple = (), kwargs: Mapping | None = None) -> Reduce:
        state = dict(state, _init_args=args, _init_kwargs=dict(kwargs or {}))
        meta = {"type": "class", "version": 6, "module_src": self.src, "class_name": class_name, "state": state}
        return Reduce(Global("torch_utils.persistence", "_reconstruct_persistent_obj"), (meta,))

    def filt(self) -> torch.Tensor:
        f = torch.tensor([1.0, 3.0, 3.0, 1.0])
        f = f.ger(f)
        return f / f.sum()

    def fc(self, m: FullyConnectedLayer, in_f: int, out_f: int, **kwargs: Any) -> Reduce:
        state = _module_state({"weight": m.weight, "bias": m.bias}, {}, {})
        state.update(activation=m.activation, weight_gain=np_float64(m.weight_gain), bias_gain=kwargs.get("lr_multiplier", 1))
        return self.persistent("FullyConnectedLayer", state, (in_f, out_f), kwargs)

    def layer(self, m: SynthesisLayer, resolution: int, up: int = 1, instance_norm: bool | None = None) -> Reduce:
        state = _module_state({"weight": m.weight, "bias": m.bias}, {"resample_filter": self.filt()},
                              {"affine": self.fc(m.affine, self.cfg.w_dim, m.affine.weight.shape[0], bias_init=0)})
        state.update(cfg=OmegaTree(self.gcfg).record, resolution=resolution, up=up, activation=m.activation, conv_clamp=m.conv_clamp,
                     padding=0, act_gain=np_float64(np.sqrt(2)), instance_norm=m.instance_norm)
        kwargs = dict(w_dim=self.cfg.w_dim, resolution=resolution, resample_filter=[1, 3, 3, 1], conv_clamp=self.cfg.conv_clamp,
                      channels_last=False, kernel_size=1, cfg=self.gcfg)
        if up != 1:
            kwargs["up"] = up
        if instance_norm is not None:
            kwargs["instance_norm"] = instance_norm
        return self.persistent("SynthesisLayer", state, (m.in_channels, m.out_channels), kwargs)

    def torgb(self, m: ToRGBLayer) -> Reduce:
        state = _module_state({"weight": m.weight, "bias": m.bias}, {}, {"affine": self.fc(m.affine, self.cfg.w_dim, m.in_channels, bias_init=1)})
        state.update(conv_clamp=m.conv_clamp, weight_gain=np_float64(m.weight_gain))
        kwargs = dict(w_dim=self.cfg.w_dim, conv_clamp=self.cfg.conv_clamp, channels_last=False)
        return self.persistent("ToRGBLayer", state, (m.in_channels, self.cfg.img_channels), kwargs)

    def fuser(self, m: CoordFuser, tree: OmegaTree) -> Reduce:
        s = m.spec
        params: dict[str, Any] = {}
        buffers: dict[str, Any] = {}
        modules: dict[str, Any] = {}
        if s.log_rows:
            buffers["log_basis"] = m.log_basis
        if s.random_emb_size:
            buffers["random_basis"] = m.random_basis
        if s.shared_emb_size:
            params["shared_basis"] = m.shared_basis
        if s.predictable_emb_size:
            modules["affine"] = self.fc(m.affine, self.cfg.w_dim, 3 * s.predictable_emb_size, bias_init=0)
        if s.const_emb_size:
            params["const_embs"] = m.const_embs
        state = _module_state(params, buffers, modules)
        res_tree = tree.get(f"res_configs.{s.resolution}")
        fourier = res_tree.children.get("fourier_scale")
        cache = None
        cached = s.sin_rows * (2 if s.use_cosine else 1) + (2 if s.use_raw_coords else 0)
        if self.caches and cached and not (s.predictable_emb_size or s.shared_emb_size):
            # their eval-time cache: a detached slice of the last fused output (a view with an offset)
            r = s.resolution
            full = torch.randn(1, 3 + cached, r, r, generator=self.gen)
            cache = full[:, 3:]
        state.update(
            cfg=tree.record, resolution=s.resolution, res_cfg=res_tree.record, log_emb_size=s.log_emb_size,
            random_emb_size=s.random_emb_size, shared_emb_size=s.shared_emb_size, predictable_emb_size=s.predictable_emb_size,
            const_emb_size=s.const_emb_size, fourier_scale=np_float64(np.sqrt(10)) if fourier is None else fourier,
            use_cosine=s.use_cosine, use_raw_coords=s.use_raw_coords, init_dist="randn", _fourier_embs_cache=cache,
            _full_cache=None, use_full_cache=False, total_dim=s.total_dim, is_modulated=s.predictable_emb_size > 0,
        )
        if s.predictable_emb_size:
            state.update(W_size=2 * s.predictable_emb_size, b_size=s.predictable_emb_size)
        return self.persistent("CoordFuser", state, (tree.record, self.cfg.w_dim, s.resolution), {})

    def block(self, blk: SynthesisBlock) -> Reduce:
        info = blk.info
        tree = OmegaTree(self.gcfg)
        modules: dict[str, Any] = {}
        attrs: dict[str, Any] = {}
        if info.in_channels == 0:
            input_tree = tree.get("input")
            fuser_tree = input_tree.get("coord_fuser_cfg")
            coords_in = _module_state({}, {}, {"coord_fuser": self.fuser(blk.input.input.coord_fuser, fuser_tree)})
            coords_in.update(cfg=input_tree.record)
            gen_input = _module_state({}, {}, {"input": self.persistent("CoordsInput", coords_in, (input_tree.record, self.cfg.w_dim), {})})
            gen_input.update(cfg=input_tree.record, total_dim=self.cfg.coords[0].total_dim)
            modules["input"] = self.persistent("GenInput", gen_input, (input_tree.record, info.out_channels, self.cfg.w_dim), {})
        else:
            if info.coord_fuser is not None:
                modules["coord_fuser"] = self.fuser(blk.coord_fuser, tree.get("coords"))
            else:
                attrs["coord_fuser"] = None
            modules["conv0"] = self.layer(blk.conv0, info.resolution)
        modules["conv1"] = self.layer(blk.conv1, info.resolution, instance_norm=blk.conv1.instance_norm)
        if info.num_extra:
            items = OrderedDict((str(k), self.layer(m, info.resolution, instance_norm=m.instance_norm)) for k, m in enumerate(blk.extra_convs))
            modules["extra_convs"] = NewObj(Global("torch.nn.modules.container", "ModuleList"), state=_module_state({}, {}, items))
        else:
            attrs["extra_convs"] = None
        if info.torgb:
            modules["torgb"] = self.torgb(blk.torgb)
        state = _module_state({}, {"resample_filter": self.filt()}, modules)
        num_conv = len(blk.layers())
        state.update(
            cfg=tree.record, in_channels=info.in_channels, w_dim=self.cfg.w_dim, resolution=info.resolution, up=info.up,
            input_resolution=info.resolution // info.up if info.up == 2 else info.resolution, img_channels=self.cfg.img_channels,
            is_last=info.is_last, architecture=self.cfg.architecture, use_fp16=False, channels_last=False,
            num_conv=num_conv, num_torgb=int(info.torgb), **attrs,
        )
        kwargs = dict(w_dim=self.cfg.w_dim, resolution=info.nominal, img_channels=self.cfg.img_channels, is_last=info.is_last,
                      use_fp16=False, cfg=self.gcfg, channel_base=None)
        kwargs.pop("channel_base")
        kwargs.update({k: v for k, v in self.kwargs["synthesis_kwargs"].items() if k not in ("channel_base", "channel_max", "num_fp16_res")})
        return self.persistent("SynthesisBlock", state, (info.in_channels, info.out_channels), kwargs)

    def generator(self, model: SG2Generator) -> Reduce:
        cfg = self.cfg
        blocks = model.synthesis.blocks()
        num_ws = sum(len(b.layers()) for b in blocks) + 1
        syn = _module_state({}, {}, {b.info.name: self.block(b) for b in blocks})
        syn.update(w_dim=cfg.w_dim, cfg=OmegaTree(self.gcfg).record, img_resolution=cfg.img_resolution,
                   img_resolution_log2=int(np.log2(cfg.img_resolution)), img_channels=cfg.img_channels,
                   block_resolutions=[b.info.nominal for b in blocks], num_ws=num_ws)
        synthesis = self.persistent("SynthesisNetwork", syn, (), dict(w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                                    img_channels=cfg.img_channels, cfg=self.gcfg, **self.kwargs["synthesis_kwargs"]))
        mp = model.mapping
        hidden = cfg.mapping_layer_features or cfg.w_dim
        dims = [cfg.z_dim] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
        fcs = {f"fc{i}": self.fc(getattr(mp, f"fc{i}"), dims[i], dims[i + 1], activation=cfg.mapping_activation,
                                 lr_multiplier=cfg.mapping_lr_multiplier) for i in range(cfg.mapping_layers)}
        mstate = _module_state({}, {"w_avg": mp.w_avg}, fcs)
        mstate.update(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, num_ws=num_ws, num_layers=cfg.mapping_layers, w_avg_beta=0.995)
        mapping = self.persistent("MappingNetwork", mstate, (), dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, num_ws=num_ws,
                                  **self.kwargs["mapping_kwargs"]))
        gstate = _module_state({}, {}, {"synthesis": synthesis, "mapping": mapping})
        gstate.update(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                      img_channels=cfg.img_channels, num_ws=num_ws)
        kwargs = dict(self.kwargs)
        kwargs["mapping_kwargs"] = easydict(kwargs["mapping_kwargs"])
        kwargs["synthesis_kwargs"] = easydict(kwargs["synthesis_kwargs"])
        return self.persistent("Generator", gstate, (), kwargs)

    def stand_in(self, class_name: str, shapes: Mapping[str, tuple[int, ...]], kwargs: Mapping[str, Any]) -> Reduce:
        """A small persistent network that is not the generator (their D, augment_pipe)."""
        params = {k: torch.randn(*s, generator=self.gen) for k, s in shapes.items()}
        state = _module_state(params, {"p": torch.zeros([])}, {})
        return self.persistent(class_name, state, (), kwargs)


def network_pickle(model: SG2Generator, *, g: SG2Generator | None = None, extras: bool = True, caches: bool = True,
                   module_src: str = PLACEHOLDER_SRC, inject: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The snapshot dict (records) of a network pickle whose ``G_ema`` is ``model``.

    ``g`` is written as ``G`` (the non-averaged generator of a real snapshot); ``extras`` adds
    ``D``, ``augment_pipe`` and ``training_set_kwargs``; ``inject`` adds entries to
    ``G_ema``'s state (tests use it to plant hostile objects)."""
    writer = _Writer(model.cfg, module_src, caches)
    g_ema = writer.generator(model)
    if inject:
        g_ema.args[0]["state"].update(inject)
    data: dict[str, Any] = {}
    if extras:
        data["training_set_kwargs"] = {
            "class_name": "training.dataset.ImageFolderDataset", "path": "data/lsun_church.zip", "use_labels": False,
            "max_size": None, "xflip": True, "resolution": model.cfg.img_resolution,
        }
    data["G"] = writer.generator(g) if g is not None else g_ema
    if extras:
        data["D"] = writer.stand_in("Discriminator", {"b4.out.weight": (1, 8)}, {"c_dim": 0, "img_resolution": model.cfg.img_resolution,
                                    "img_channels": 3, "block_kwargs": easydict({}), "mapping_kwargs": easydict({}),
                                    "epilogue_kwargs": easydict({"mbstd_group_size": 4})})
    data["G_ema"] = g_ema
    if extras:
        data["augment_pipe"] = writer.stand_in("AugmentPipe", {}, {"xflip": 1, "rotate90": 1})
    return data


def write_network_pickle(path: str | Path, model: SG2Generator, **kwargs: Any) -> Path:
    path = Path(path)
    path.write_bytes(dumps(network_pickle(model, **kwargs)))
    return path
