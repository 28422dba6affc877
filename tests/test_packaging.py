"""The wheel installs only `inrgan_export` (no generic top-level names) and the CLI entry point."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_has_only_the_inrgan_export_top_level(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("inrgan_export-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        tops = {n.split("/")[0] for n in names}
        entry = next(n for n in names if n.endswith("entry_points.txt"))
        entry_points = zf.read(entry).decode()
    assert {t for t in tops if not t.endswith(".dist-info")} == {"inrgan_export"}
    assert "inrgan-export = inrgan_export.cli:main" in entry_points
    assert not any(n.startswith(("calibration/", "runtimes/", "tests/", "benchmarks/")) for n in names)
    assert "inrgan_export/families/paper/model.py" in names
    # the design card's calibration/ folder is installed as inrgan_export.calibration
    assert "inrgan_export/calibration/__init__.py" in names
    # every subpackage of the source tree is in the wheel (the package list is explicit)
    for init in (ROOT / "inrgan_export").rglob("__init__.py"):
        rel = init.relative_to(ROOT).as_posix()
        assert rel in names, f"{rel} is missing from the wheel: add its package to pyproject.toml"
    assert "inrgan_export/compile/data/tensorrt_onnx_ops.json" in names
    # the fitted demo presets' weights (demo:photos, demo:photos-sg2) are package data
    assert {"inrgan_export/families/paper/data/photos.pt", "inrgan_export/families/sg2/data/photos-sg2.pt"} <= set(names)


def shadowed_facade_names(package_dir: Path, names) -> list[str]:
    """Facade functions that a submodule of the same name would replace once it is imported
    (``import inrgan_export.export`` sets the package attribute ``export`` to the module)."""
    return sorted(n for n in names if (package_dir / f"{n}.py").exists() or (package_dir / n / "__init__.py").exists())


def test_no_submodule_shadows_a_facade_function(tmp_path):
    import inrgan_export

    assert shadowed_facade_names(ROOT / "inrgan_export", inrgan_export.__all__) == []
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "__init__.py").write_text("")
    (tmp_path / "inspect.py").write_text("")
    assert shadowed_facade_names(tmp_path, ["export", "inspect", "open_bundle"]) == ["export", "inspect"]


def test_licence_metadata_typing_marker_changelog_and_platform():
    """The installed distribution carries the Apache-2.0 licence (expression and file), says
    Linux only, ships py.typed; the repository has the CHANGELOG the README points to."""
    from importlib import metadata

    meta = metadata.metadata("inrgan-export")
    assert meta["License-Expression"] == "Apache-2.0"
    assert "Operating System :: POSIX :: Linux" in meta.get_all("Classifier")
    assert not [c for c in meta.get_all("Classifier") if c.startswith("Operating System") and "Linux" not in c]
    files = {str(f) for f in metadata.files("inrgan-export")}
    licence = next(f for f in metadata.files("inrgan-export") if str(f).endswith("LICENSE"))
    assert "Apache License" in licence.read_text() and "Version 2.0, January 2004" in licence.read_text()
    assert "inrgan_export/py.typed" in files and "inrgan_export/commands/data/demo_presets.json" in files
    readme = (ROOT / "README.md").read_text()
    assert "### Platforms\n\nLinux only" in readme and "Apache License 2.0 (`LICENSE`" in readme
    assert (ROOT / "CHANGELOG.md").read_text().startswith("# Changelog")
    assert (ROOT / "LICENSE").read_text() == licence.read_text()
