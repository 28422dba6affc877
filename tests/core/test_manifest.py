"""The typed, versioned manifest (inrgan_export.core.manifest): its JSON Schema, the v1
compatibility policy, field-by-field validation and immutability."""
from __future__ import annotations

import copy
import json
import math
import shutil

import jsonschema
import numpy as np
import pytest

from inrgan_export import open_bundle
from inrgan_export.core.bundle import Bundle
from inrgan_export.core.errors import BundleError
from inrgan_export.core.manifest import MANIFEST_VERSION, Manifest, parse_version, schema_path

from ..conftest import DATA, assert_one_line_error, run_cli

V1 = DATA / "bundle_v1"


def schema_errors(manifest: dict) -> list[str]:
    schema = json.loads(schema_path().read_text())
    return [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(manifest)]


def assert_valid_manifest(bundle_dir) -> dict:
    """Used by every target's tests: the written manifest validates against the shipped schema
    and reads back as the same typed manifest."""
    data = json.loads((bundle_dir / "manifest.json").read_text())
    assert schema_errors(data) == []
    assert data["manifest_version"] == MANIFEST_VERSION
    assert Manifest.from_json(data).to_json() == data
    return data


def test_schema_is_a_valid_draft_2020_12_schema():
    jsonschema.Draft202012Validator.check_schema(json.loads(schema_path().read_text()))


def test_onnx_bundle_manifest_matches_the_schema(tiny_bundle):
    assert_valid_manifest(tiny_bundle)


def test_schema_rejects_broken_manifests(tiny_bundle):
    good = json.loads((tiny_bundle / "manifest.json").read_text())
    breakages = {
        "newer major": lambda m: m.update(manifest_version="2.0"),
        "no interface": lambda m: m.pop("interface"),
        "file entry is a string": lambda m: m["files"].update({"inr.onnx": "abc"}),
        "path leaves the bundle": lambda m: m["files"].update({"../x": m["files"]["inr.onnx"]}),
        "zero z_dim": lambda m: m["interface"].update(z_dim=0),
        "bad sha": lambda m: m["files"]["inr.onnx"].update(sha256="XYZ"),
    }
    for name, breaking in breakages.items():
        m = copy.deepcopy(good)
        breaking(m)
        assert schema_errors(m), name


def test_v1_bundle_still_opens_and_renders_as_when_written():
    bundle = Bundle.open(V1)
    assert bundle.manifest.version == "1.0" and bundle.manifest["manifest_version"] == 1
    assert schema_errors(json.loads((V1 / "manifest.json").read_text())) == []
    expected = np.load(V1 / "expected.npz")
    z = np.random.RandomState(0).randn(1, 16).astype(np.float32)
    with open_bundle(V1) as g:
        np.testing.assert_array_equal(g.generate(z, (16, 16)), expected["seed0_16x16"])
        np.testing.assert_array_equal(g.generate(z, (24, 20), (-0.25, -0.25, 1.25, 1.25)), expected["seed0_24x20_extrapolate"])


def test_newer_major_is_refused_naming_both_versions(tmp_path):
    bad = tmp_path / "b"
    shutil.copytree(V1, bad)
    m = json.loads((bad / "manifest.json").read_text())
    m["manifest_version"] = "2.0"
    (bad / "manifest.json").write_text(json.dumps(m))
    proc = run_cli("render", bad, "-o", tmp_path / "x.png", cwd=tmp_path)
    assert_one_line_error(proc, 2, "manifest version 2.0", MANIFEST_VERSION)
    assert not (tmp_path / "x.png").exists()
    m["manifest_version"] = "1.9"  # a newer minor of a known major opens
    (bad / "manifest.json").write_text(json.dumps(m))
    assert Bundle.open(bad).manifest.version == "1.9"


@pytest.mark.parametrize("value, expected", [(1, (1, 0)), ("1.0", (1, 0)), ("1.12", (1, 12))])
def test_version_parsing(value, expected):
    assert parse_version(value) == expected


@pytest.mark.parametrize("value", ["2.0", 2, "1", "1.x", True, None, 1.5])
def test_version_parsing_refuses(value):
    with pytest.raises(BundleError, match="manifest"):
        parse_version(value)


@pytest.mark.parametrize("breaking, field", [
    (lambda m: m.pop("interface"), "'interface' is missing"),
    (lambda m: m["files"].update({"inr.onnx": "abc"}), "files['inr.onnx']"),
    (lambda m: m["interface"].update(native_size=[0, 16]), "'native_size'"),
    (lambda m: m["interface"].update(native_size=[math.nan, 16]), "non-finite"),
    (lambda m: m["interface"].update(z_dim="16"), "'z_dim'"),
    (lambda m: m["graphs"]["inr"].update(onnx="/etc/passwd"), "must be relative"),
    (lambda m: m["graphs"]["inr"].update(onnx="../x/inr.onnx"), "must be relative"),
    (lambda m: m.update(family="sg2"), "interface.family"),
])
def test_manifest_fields_are_checked_one_by_one(breaking, field):
    data = json.loads((V1 / "manifest.json").read_text())
    breaking(data)
    with pytest.raises(BundleError) as err:
        Manifest.from_json(data)
    assert field in str(err.value) and "\n" not in str(err.value)


def test_manifest_is_immutable_and_merges_into_a_new_one():
    m = Bundle.open(V1).manifest
    graphs = m["graphs"]
    graphs["inr"]["onnx"] = "evil.onnx"
    assert m["graphs"]["inr"]["onnx"] == "inr.onnx"
    with pytest.raises(TypeError):
        m["target"] = "x"  # type: ignore[index]
    m2 = m.merged({"openvino": {"precision": "fp32"}, "graphs": {"inr": {"openvino": "inr.xml"}}})
    assert m.section("openvino") is None and m2.section("openvino") == {"precision": "fp32"}
    assert m2.graph_file("inr", "openvino") == "inr.xml" and m2.graph_file("inr") == "inr.onnx"
    with pytest.raises(ValueError, match="interface"):
        m.merged({"interface": {}})
