"""Target ``executorch``: PyTorch's on-device runtime. The hypernetwork and INR graphs are
exported with ``torch.export`` (the same named dims as the ONNX graphs, each bounded by
``--max-res``/``--max-batch`` through the model's size rule, like the TensorRT profiles),
lowered to XNNPACK (``to_edge_transform_and_lower`` + ``XnnpackPartitioner``) and written as
``.pte`` programs. ExecuTorch plans activation memory at the bound, so the bound is a
deployment choice: the planned bytes are recorded per graph, and the runtime tiles renders
larger than the bound into pieces that fit it.

This target exports from the PyTorch model itself (``needs_onnx = False``). INT8 is refused,
because XNNPACK (executorch 1.5) runs no INR layer in INT8. Every INR layer is a product of a
per-sample weight (made from θ) with the pixel features, and

* the XNNPACK PT2E quantizer annotates linear, conv, add, mul, cat and pooling: on the graph
  as exported it quantizes the elementwise ops around the layers (weight construction,
  Fourier features, bias adds), and XNNPACK then runs the layers' batch matmuls in FP32
  between INT8 round trips (no speed-up; worst PSNR 22 dB on ``demo:sg2-tiny``);
* written as ``F.linear`` over the per-sample weight (batch 1) the quantizer annotates the
  layers, static or dynamic, but XNNPACK's quantized fully-connected needs a constant weight,
  so those linears fall to ExecuTorch's portable kernels with their quantize ops, and the
  portable per-channel quantize kernel aborts on the float32 scales at run time;
* annotated by hand (INT8 on both operands of each layer's ``bmm``), the batch matmul stays
  FP32 in XNNPACK (its partitioner takes ``bmm`` in FP32 only) between convert ops: INT8
  error, no INT8 arithmetic.

``benchmarks/executorch_int8_trial.py`` reproduces each of these (what is annotated, which
GEMMs XNNPACK runs in which datatype, PSNR on held-out latents, latency against FP32);
its output is ``benchmarks/results/executorch_int8_trial.json``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import warnings
from pathlib import Path
from typing import Any

from ..core.errors import BackendUnavailable, InrganError
from ..core.log import info, step
from ..core.manifest import GRAPHS
from ..backends.program_probe import record_good
from ..backends.trt_profiles import ResolutionRange, dim_ranges, resolve_range
from . import CompileContext, CompileResult, RuntimeSpec, Target

#: the graphs ExecuTorch runs (the fused generator is the two run in turn)
PTE_GRAPHS = ("hypernet", "inr")


def import_executorch():
    """ExecuTorch's exporter modules, or exit 3 naming the extra that brings them."""
    try:
        from executorch.backends.xnnpack.partition.xnnpack_partitioner import XnnpackPartitioner
        from executorch.exir import to_edge_transform_and_lower
    except ImportError as e:
        raise BackendUnavailable(
            f"target executorch needs the 'mobile' extra ({(e.name or 'executorch').split('.')[0]} is not installed): "
            "pip install 'inrgan-export[mobile]'"
        ) from None
    return to_edge_transform_and_lower, XnnpackPartitioner


class ExecuTorchTarget(Target):
    name = "executorch"
    precisions = ("fp32",)
    default_backend = "executorch"
    needs_onnx = False

    def check(self, options: Any) -> None:
        if options.precision == "int8":
            from ..core.errors import UnsupportedOption

            raise UnsupportedOption(
                "precision int8 is not supported for target executorch: XNNPACK runs no INR layer in INT8 (its quantized "
                "GEMMs need constant weights, the INR's are per-sample); supported: fp32 "
                "(int8: --target onnx, openvino, ort-mobile or tensorrt)"
            )
        super().check(options)
        bound_range(options, (1, 1))  # a bad --max-res/--max-batch fails before any work

    def compile(self, ctx: CompileContext) -> CompileResult:
        import torch

        to_edge, partitioner = import_executorch()
        opts = ctx.options
        model = ctx.model
        layout = model.layout
        rng = bound_range(opts, model.native_size)
        bounds = {name: hi for name, (_, _, hi) in dim_ranges(layout.size_rule, rng).items()}
        graphs: dict[str, dict[str, Any]] = {}
        planned: dict[str, int] = {}
        for graph in ctx.graphs:
            if graph.name not in PTE_GRAPHS:
                continue
            path = ctx.directory / f"{graph.name}.pte"
            with step(f"exporting {path.name} (torch.export, XNNPACK; dims bounded at {rng.max_res[0]}x{rng.max_res[1]}, "
                      f"batch {rng.max_batch})", path):
                program = lower(graph, model, ctx.family.export_spec, bounds, to_edge, partitioner, opts.debug)
                path.write_bytes(program.buffer)
                record_good(path)  # written here: no child process needs to probe it before it loads
            planned[graph.name] = planned_bytes(program)
            graphs[graph.name] = {"pte": path.name, "inputs": [t.to_manifest() for t in graph.inputs],
                                  "outputs": [t.to_manifest() for t in graph.outputs]}
        info(f"  planned activation memory at the bound: "
             + ", ".join(f"{g} {b / 2**20:.1f} MiB" for g, b in planned.items()))
        section = {
            "version": _version("executorch"),
            "torch": torch.__version__,
            "delegate": "XNNPACK (XnnpackPartitioner); the rest on ExecuTorch's portable kernels",
            "precision": "fp32",
            "bound": {"max_res": list(rng.max_res), "max_batch": rng.max_batch, "dims": bounds},
            "planned_memory_bytes": planned,
            "larger_renders": "tiled by the runtime into pieces within the bound",
        }
        return CompileResult(manifest={"graphs": graphs, "executorch": section})

    def runtimes(self, directory: Path, manifest: Any, max_memory=None, threads=None) -> list[RuntimeSpec]:
        from ..core.bundle import Bundle
        from ..backends.executorch_backend import ExecuTorchGenerator

        gen = ExecuTorchGenerator(Bundle(directory, manifest), max_memory=max_memory, threads=threads)
        return [RuntimeSpec("executorch", "fp32", gen, paths=("split",))]


def bound_range(opts: Any, native: tuple[int, int]) -> ResolutionRange:
    """The largest piece a program runs: ``--max-res`` (default 2x native) and ``--max-batch``."""
    return resolve_range(native, opts.max_batch, opts.min_res, opts.opt_res, opts.max_res)


def lower(graph, model, spec, bounds: dict[str, int], to_edge, partitioner, debug: bool = False):
    """torch.export with bounded named dims → XNNPACK-lowered ExecuTorch program."""
    import torch

    from ..load.split import check_example_dims, example_inputs

    spec = dataclasses.replace(spec, example_size=example_size_within(model.layout, bounds))
    args = example_inputs(graph, model, spec)
    check_example_dims(graph, args)
    dims: dict[str, torch.export.Dim] = {}

    def dim(name: str):
        if name not in dims:
            # torch.export needs max > min for a dynamic dim: a bound of 1 (--max-batch 1) becomes 2
            dims[name] = torch.export.Dim(name, min=1, max=max(2, bounds[name]))
        return dims[name]

    per_input = [{i: dim(d) for i, d in enumerate(t.shape) if isinstance(d, str)} for t in graph.inputs]
    dynamic = (per_input[0], tuple(per_input[1:])) if len(per_input) > 1 else (per_input[0],)
    quiet = contextlib.ExitStack()
    if not debug:
        quiet.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")
        quiet.enter_context(contextlib.redirect_stdout(io.StringIO()))
        logging.getLogger("torch").setLevel(logging.ERROR)
    with quiet:
        try:
            exported = torch.export.export(graph.module, args, dynamic_shapes=dynamic, strict=False)
            return to_edge(exported, partitioner=[partitioner()]).to_executorch()
        except Exception as e:  # noqa: BLE001 - the exporter fails in many ways; one line
            text = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
            raise InrganError(f"ExecuTorch export of the {graph.name} graph failed: {text}") from None


def example_size_within(layout, bounds: dict[str, int]) -> tuple[int, int]:
    """A size to trace at that lies within the bound and gives every block dim a distinct value
    >= 2, so that torch.export neither specialises a dim nor ties two dims by coincidence."""
    rule = layout.size_rule
    n = layout.num_blocks
    max_h = min(bounds[f"h{b}"] for b in (n - 1,))
    max_w = min(bounds[f"w{b}"] for b in (n - 1,))
    for h in range(max_h, 1, -1):
        for w in range(max_w, 1, -1):
            shapes = rule.block_shapes((h, w))
            values = [v for shape in shapes for v in shape]
            if min(values) >= 2 and len(set(values)) == len(values) and all(
                    hb <= bounds[f"h{b}"] and wb <= bounds[f"w{b}"] for b, (hb, wb) in enumerate(shapes)):
                return h, w
    raise InrganError(f"no size within the ExecuTorch bound {max_h}x{max_w} gives distinct block dims to trace at; "
                      "raise --max-res")


def planned_bytes(program) -> int:
    """Bytes of the memory-planned (non-constant) buffers of the program's forward method."""
    plan = program.executorch_program.execution_plan[0]
    return int(sum(plan.non_const_buffer_sizes))


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


assert set(PTE_GRAPHS) <= set(GRAPHS)
