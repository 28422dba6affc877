"""Target ``ort-mobile``: ONNX Runtime's own format (``.ort``) of every graph, for the ONNX
Runtime Mobile packages on Android and iOS (the same library as on Linux).

The graphs are converted with ONNX Runtime's converter
(``onnxruntime.tools.convert_onnx_models_to_ort``): optimised once at conversion ("Fixed"
style, level "all", ARM target platform, so no x86-only NCHWc layout and int8 Q/DQ may run
as s8 kernels), dims left symbolic. ``required_operators.config`` lists the operators the
graphs use: the input a reduced-size ONNX Runtime build takes (``--include_ops_by_config``).
The manifest's ``ort_mobile`` section records, from ONNX Runtime's own mobile usability
check, which execution providers suit each graph on Android (NNAPI) and iOS (Core ML).

``--precision int8`` quantizes the FP32 graph with the same gated Q/DQ plan as the other
targets before conversion. The bundle keeps the ONNX graphs too (the reference for verify
and the fallback on desktops); a phone needs only the ``.ort`` files, the config and the
manifest.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from ..core.log import step
from . import CompileContext, CompileResult, RuntimeSpec, Target

#: the per-graph file kind of the converted graphs, and the file of the reduced build's operators
GRAPH_KIND = "ort"  # = runtime.onnxruntime_backend.ORT_GRAPH_KIND
REQUIRED_OPERATORS = "required_operators.config"
#: the graphs the usability check judges (the fused generator is the two joined)
CHECKED_GRAPHS = ("hypernet", "inr")
#: ONNX Runtime's mobile execution providers, by the name its usability checker uses, and their platform
MOBILE_EPS = {"NNAPI": "android", "CoreML NeuralNetwork": "ios", "CoreML MLProgram": "ios"}


class OrtMobileTarget(Target):
    name = "ort-mobile"
    precisions = ("fp32", "int8")
    default_backend = "onnxruntime"

    def compile(self, ctx: CompileContext) -> CompileResult:
        import onnxruntime as ort

        additions: dict[str, Any] = {}
        error = None
        if ctx.options.precision == "int8":
            from ..calibration.export import quantize_bundle

            additions, error = quantize_bundle(ctx)
        base = ctx.manifest.merged(additions)
        onnx_files = {name: ctx.directory / entry["onnx"] for name, entry in base["graphs"].items()}
        with step(f"converting {len(onnx_files)} graphs to ONNX Runtime format (.ort) and listing their operators",
                  lambda: sorted(ctx.directory.glob("*.ort"))):  # the .ort graphs (not the operator list's 275 B)
            ort_files = convert_to_ort(onnx_files, ctx.directory)
        with step("ONNX Runtime mobile usability check (NNAPI, Core ML) of " + ", ".join(CHECKED_GRAPHS)):
            usability = {name: check_usability(onnx_files[name]) for name in CHECKED_GRAPHS if name in onnx_files}
        section = {
            "onnxruntime_version": ort.__version__,
            "converter": "onnxruntime.tools.convert_onnx_models_to_ort",
            "optimization_style": "Fixed",
            "optimization_level": "all",
            "target_platform": "arm",
            "precision": ctx.options.precision,
            "required_operators": REQUIRED_OPERATORS,
            "load": "session config entry session.load_model_format=ORT",
            "dynamic_dims": "batch, h<b>, w<b> kept symbolic",
            "usability": {"checker": "onnxruntime.tools.mobile_helpers.usability_checker", "graphs": usability},
            "execution_providers": recommended_providers(usability.get("inr") or next(iter(usability.values()))),
        }
        graphs = {n: {**additions.get("graphs", {}).get(n, {}), GRAPH_KIND: f.name} for n, f in ort_files.items()}
        return CompileResult(
            manifest={**additions, "graphs": graphs, "ort_mobile": section, "onnxruntime_graph": GRAPH_KIND},
            deferred_error=error,
        )

    def runtimes(self, directory: Path, manifest: dict[str, Any], max_memory=None, threads=None) -> list[RuntimeSpec]:
        from ..core.bundle import Bundle
        from ..backends.onnxruntime_backend import OnnxRuntimeGenerator

        gen = OnnxRuntimeGenerator(Bundle(directory, manifest), max_memory=max_memory, threads=threads, graph_kind=GRAPH_KIND)
        return [RuntimeSpec("onnxruntime", manifest["ort_mobile"]["precision"], gen)]


def convert_to_ort(onnx_files: dict[str, Path], out: Path) -> dict[str, Path]:
    """Convert the graphs with ONNX Runtime's converter into ``out``; writes ``required_operators.config``
    there too. The converter works on a directory, so it gets one holding links to just these graphs."""
    from onnxruntime.tools.convert_onnx_models_to_ort import OptimizationStyle, convert_onnx_models_to_ort

    with tempfile.TemporaryDirectory(prefix="inrgan-ort-") as tmp:
        src, dst = Path(tmp) / "onnx", Path(tmp) / "ort"
        src.mkdir()
        for name, path in onnx_files.items():
            os.symlink(path.resolve(), src / f"{name}.onnx")
            for data in external_data_files(path):  # ONNX Runtime resolves them next to the graph
                if not (src / data).exists():
                    os.symlink((path.parent / data).resolve(), src / data)
        printed = io.StringIO()
        # the converter prints its progress; keep the CLI's own output clean. Its level comes from
        # an environment variable that would rename the files: pin it to "all".
        env_level = os.environ.pop("ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL", None)
        config_log = logging.getLogger("ort_format_model.utils")  # logs the config's temporary path at INFO
        config_log_level = config_log.level
        config_log.setLevel(logging.WARNING)
        try:
            with contextlib.redirect_stdout(printed):
                convert_onnx_models_to_ort(src, output_dir=dst, optimization_styles=[OptimizationStyle.Fixed],
                                           target_platform="arm")
        finally:
            config_log.setLevel(config_log_level)
            if env_level is not None:
                os.environ["ORT_CONVERT_ONNX_MODELS_TO_ORT_OPTIMIZATION_LEVEL"] = env_level
        files = {}
        for name in onnx_files:
            target = out / f"{name}.{GRAPH_KIND}"
            os.replace(dst / f"{name}.ort", target)
            files[name] = target
        # the converter names the (temporary) files it read; name the bundle's instead
        lines = (dst / REQUIRED_OPERATORS).read_text(encoding="utf-8").splitlines()
        lines = [f"# - {Path(line[4:]).name}" if line.startswith("# - ") else line for line in lines]
        (out / REQUIRED_OPERATORS).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return files


def external_data_files(path: Path) -> set[str]:
    """The files a graph keeps its large weights in (hypernet.weights, shared by hypernet.onnx
    and generator.onnx), by the names the graph gives them."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return {e.value for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
            for e in t.external_data if e.key == "location"}


def check_usability(onnx_file: Path) -> dict[str, Any]:
    """ONNX Runtime's mobile usability check of one graph, as data: per execution provider, the
    share of nodes it would take (as exported, and if the dynamic dims were fixed) and its verdict
    (YES / MAYBE / NO, ONNX Runtime's own thresholds on partitions and coverage)."""
    from onnxruntime.tools.mobile_helpers import usability_checker as uc
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    quiet = logging.getLogger("inrgan_export.ort_usability")
    quiet.setLevel(logging.ERROR)
    checks = {
        "NNAPI": uc.check_nnapi_partitions,
        "CoreML NeuralNetwork": lambda m, fixed: uc.check_coreml_partitions(m, fixed, "coreml_supported_neuralnetwork_ops.md"),
        "CoreML MLProgram": lambda m, fixed: uc.check_coreml_partitions(m, fixed, "coreml_supported_mlprogram_ops.md"),
    }
    with tempfile.TemporaryDirectory(prefix="inrgan-usability-") as tmp:
        # as the checker does: judge the graph after the basic optimisations the conversion applies
        optimized = Path(tmp) / onnx_file.name
        optimize_model(onnx_file, optimized, use_external_initializers=True)
        model = ModelProtoWithShapeInfo(optimized).model_with_shape_info
        dynamic_inputs, _ = uc.check_shapes(model.graph, quiet)
        result: dict[str, Any] = {"dynamic_inputs": sorted(i.name for i in dynamic_inputs)}
        for ep, check in checks.items():
            as_is = check(model, True)
            fixed = check(model, False)
            result[ep] = {
                "platform": MOBILE_EPS[ep],
                "nodes": as_is.num_nodes,
                "supported_nodes": as_is.num_supported_nodes,
                "partitions": as_is.num_partitions,
                "verdict": as_is.suitability().name,
                "supported_nodes_if_fixed_shapes": fixed.num_supported_nodes,
                "partitions_if_fixed_shapes": fixed.num_partitions,
                "verdict_if_fixed_shapes": fixed.suitability().name,
                "unsupported_ops": sorted(as_is.unsupported_ops),
            }
    return result


def recommended_providers(usability: dict[str, Any]) -> dict[str, Any]:
    """Per platform, what ONNX Runtime's check suggests: its EP where the verdict is YES, the EP to
    compare against the CPU EP where MAYBE, else the CPU EP (XNNPACK is not judged by the check)."""
    out: dict[str, Any] = {}
    for platform, ep_name in (("android", "NNAPI"), ("ios", "CoreML")):
        verdicts = {ep: v["verdict"] for ep, v in usability.items() if isinstance(v, dict) and v.get("platform") == platform}
        best = max(verdicts.values(), key=("NO", "MAYBE", "YES").index)
        advice = {"YES": f"{ep_name} EP", "MAYBE": f"CPU EP; {ep_name} EP worth measuring against it",
                  "NO": "CPU EP"}[best]
        out[platform] = {"use": advice, "verdicts": verdicts}
    return out
