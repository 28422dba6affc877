"""``inrgan-export inspect BUNDLE``: what a bundle holds, read from its manifest only (no
graph is loaded and no backend started; torch-free). The same dict is the ``--json`` output
and the render service's ``/info``."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..core.bundle import Bundle
from ..core.log import human_bytes
from ..core.manifest import GRAPHS

#: graph-entry keys that describe a graph rather than name one of its files
_DESCRIPTIVE = {"inputs", "outputs", "nodes", "quantization", "simplified_with_onnxslim", "weights_shared_with"}


def inspect_bundle(path: str | Path, verify_checksums: bool = True) -> dict[str, Any]:
    bundle = Bundle.open(path, verify_checksums=verify_checksums)
    m = bundle.manifest
    iface = m.interface
    graphs = {}
    for name, entry in m["graphs"].items():
        dims = sorted({d for t in entry.get("inputs", []) + entry.get("outputs", []) for d in t["shape"] if isinstance(d, str)})
        graphs[name] = {
            "files": {k: v for k, v in entry.items() if k not in _DESCRIPTIVE and isinstance(v, str)},
            "inputs": entry.get("inputs", []),
            "outputs": entry.get("outputs", []),
            "dynamic_dims": dims,
            "nodes": entry.get("nodes"),
        }
    precisions: dict[str, Any] = {"target": m.precision, "onnx_graphs": m.get("onnx_precision", "fp32")}
    if m.get("openvino"):
        ov = m["openvino"]
        precisions["openvino"] = {"requested": ov.get("precision"), "device": ov.get("device"),
                                  "compiled": ov.get("inference_precision"), "weights": ov.get("weights")}
    if m.get("tensorrt"):
        precisions["tensorrt"] = m["tensorrt"].get("precision")
    if m.get("int8"):
        gates = m["int8"].get("gates", {})
        precisions["int8"] = {"layers": m["int8"].get("int8_layers"), "gate_passed": gates.get("passed"),
                              "gate": {k: gates.get(k) for k in GATE_FIGURES if k in gates},
                              "float_layers": m["int8"].get("float_layers", [])}
    files = {rel: e.bytes for rel, e in m.files.items()}
    mobile = m.get("ort_mobile")
    return {
        "bundle": str(bundle.path),
        "manifest_version": m.version,
        "family": m.family,
        "target": m.target,
        "default_backend": m.default_backend,
        "z_dim": iface.z_dim,
        "theta_dim": iface.theta_dim,
        "hypernet_inputs": list(iface.hypernet_inputs),
        "native_size": list(iface.native_size),
        "size_range": [list(iface.size_range[0]), list(iface.size_range[1])] if iface.size_range else None,
        "size_rule": iface.layout.size_rule.to_manifest()["kind"],
        "graphs": {name: graphs[name] for name in (*[g for g in GRAPHS if g in graphs], *[g for g in graphs if g not in GRAPHS])},
        "precisions": precisions,
        "parity": parity_verdicts(m.get("parity")),
        # target ort-mobile: the reduced build's operator list and the execution providers ONNX Runtime's check suggests
        "ort_mobile": None if not mobile else {"required_operators": mobile.get("required_operators"),
                                               "execution_providers": mobile.get("execution_providers")},
        "files": files,
        "total_bytes": sum(files.values()),
        "created": m.get("created"),
        "tool": m.get("tool"),
    }


#: the INT8 gate's figures that inspect shows (the manifest's ``int8.gates`` holds more)
GATE_FIGURES = ("passed", "median_psnr_db", "median_threshold_db", "worst_psnr_db", "worst_threshold_db", "nan_inf",
                "latents", "latent_seeds", "grids", "failed_by", "reason")


def int8_lines(layers: list[str] | None, gate: dict[str, Any], float_layers: list[dict]) -> list[str]:
    """The INT8 gate's verdict with its figures and the layer plan, one line each (export and inspect)."""
    def db(v: Any) -> str:
        return "inf" if v == "inf" else f"{v:.1f}" if isinstance(v, (int, float)) else str(v)

    if gate.get("reason"):
        figures = gate["reason"]
    else:
        figures = (f"median {db(gate.get('median_psnr_db'))} dB (needs ≥ {db(gate.get('median_threshold_db'))}), "
                   f"worst {db(gate.get('worst_psnr_db'))} dB (needs ≥ {db(gate.get('worst_threshold_db'))})"
                   + (", NaN/Inf" if gate.get("nan_inf") else "")
                   + f" over {gate.get('latents')} held-out latents (seeds {gate.get('latent_seeds')})"
                   + (f" at {', '.join(gate['grids'])}" if gate.get("grids") else ""))
    chosen = [f for f in float_layers if not str(f.get("reason", "")).startswith("always")]
    always = [f["layer"] for f in float_layers if str(f.get("reason", "")).startswith("always")]
    plan = f"{len(layers or [])} layers INT8"
    if chosen:
        plan += "; kept in float by the sweep: " + ", ".join(f"{f['layer']} ({f.get('reason')})" for f in chosen)
    if always:
        plan += "; always float: " + ", ".join(always)
    return [f"INT8 gate   {'PASS' if gate.get('passed') else 'FAIL'}: {figures}", f"INT8 plan   {plan}"]


def parity_verdicts(parity: dict | None) -> dict[str, Any] | None:
    """The verdict per checked path; bundles written before per-path verdicts were recorded
    get them from their gates and failure lines. ``gates``: the rule each path was judged by."""
    if not parity:
        return None
    paths = parity.get("paths")
    if paths is None:
        failures = parity.get("failures", [])
        paths = {name: {"backend": name.split()[0], "precision": g.get("precision"),
                        "passed": not any(f"({name}," in line for line in failures)}
                 for name, g in (parity.get("gates") or {}).items()}
    gates = {name: gate_rule(g) for name, g in (parity.get("gates") or {}).items() if isinstance(g, dict)}
    return {"passed": parity.get("passed"), "paths": paths, "gates": gates, "failures": parity.get("failures", [])}


def gate_rule(gate: dict) -> dict[str, Any]:
    """A recorded gate as its rule and numbers; gates written before the scaled FP32 rule
    carry no ``rule`` and their absolute bound under ``max_abs``."""
    rule = gate.get("rule") or ("max_abs" if isinstance(gate.get("max_abs"), (int, float)) else "min_psnr")
    atol = gate.get("atol", gate.get("max_abs")) if rule != "min_psnr" else None
    return {"rule": rule, "atol": atol, "min_psnr_db": gate.get("min_psnr_db") if rule == "min_psnr" else None,
            "description": gate.get("description") or (f"PSNR ≥ {gate.get('min_psnr_db')} dB" if rule == "min_psnr" else
                                                       f"max abs ≤ {atol}" + ("·max(1, max|ref|)" if rule == "max_abs_scaled" else ""))}


def format_inspect(info: dict[str, Any]) -> str:
    """The human-readable form of :func:`inspect_bundle`."""
    lines = [
        f"bundle      {info['bundle']}  (manifest {info['manifest_version']}, {info['tool']}, {info['created']})",
        f"family      {info['family']}  z_dim {info['z_dim']}  theta {info['theta_dim']}  inputs {', '.join(info['hypernet_inputs'])}",
        f"target      {info['target']}  (default backend {info['default_backend']})",
        f"native      {info['native_size'][0]}x{info['native_size'][1]}  size rule {info['size_rule']}  range "
        + ("any size" if info["size_range"] is None else
           f"{info['size_range'][0][0]}x{info['size_range'][0][1]} .. {info['size_range'][1][0]}x{info['size_range'][1][1]}"),
        "precisions  " + "; ".join(f"{k}: {v}" for k, v in info["precisions"].items() if k != "int8"),
    ]
    int8 = info["precisions"].get("int8")
    if int8:
        lines += int8_lines(int8.get("layers"), int8.get("gate") or {"passed": int8.get("gate_passed")}, int8.get("float_layers", []))
    lines.append("graphs")
    for name, g in info["graphs"].items():
        io = ", ".join(f"{t['name']}{list(t['shape'])}" for t in g["inputs"][:4]) + (" ..." if len(g["inputs"]) > 4 else "")
        lines.append(f"  {name:<10} {', '.join(g['files'].values())}  dynamic {', '.join(g['dynamic_dims']) or '-'}  in: {io}")
    if info.get("ort_mobile"):
        eps = info["ort_mobile"]["execution_providers"] or {}
        lines.append("mobile      " + "; ".join(f"{platform}: {v['use']}" for platform, v in eps.items())
                     + f"  (reduced build: {info['ort_mobile']['required_operators']})")
    parity = info["parity"]
    if parity is None:
        lines.append("parity      (none recorded)")
    else:
        lines.append(f"parity      {'PASS' if parity['passed'] else 'FAIL'}")
        for name, v in parity["paths"].items():
            psnr = v.get("lowest_psnr_db")
            psnr_text = "" if psnr is None else (" lowest PSNR inf" if psnr == "inf" or psnr == math.inf else f" lowest PSNR {psnr:.1f} dB")
            rel = v.get("worst_max_rel")
            rel_text = f" worst rel {rel:.2g}" if isinstance(rel, (int, float)) and v.get("precision") == "fp32" else ""
            gate = parity.get("gates", {}).get(name)
            gate_text = f"  gate {gate['description']} ({gate['rule']})" if gate else ""
            lines.append(f"  {name:<32} {v.get('precision') or '':<5} {'pass' if v['passed'] else 'FAIL'}{psnr_text}{rel_text}{gate_text}")
    lines.append(f"files       {len(info['files'])}, {human_bytes(info['total_bytes'])}")
    for rel, n in info["files"].items():
        lines.append(f"  {rel:<32} {human_bytes(n)}")
    return "\n".join(lines)
