"""The extras table (core.extras.EXTRAS) against the installed distribution's metadata: every
module a missing-extra line blames is brought by the extra it names, so the suggested
``pip install 'inrgan-export[X]'`` can fix it."""
from __future__ import annotations

import re
from importlib import metadata

from inrgan_export.core.extras import EXTRAS


def _requirements_of(extra: str) -> set[str]:
    """Normalised distribution names that ``inrgan-export[extra]`` requires directly."""
    names = set()
    for req in metadata.requires("inrgan-export") or []:
        if re.search(rf"""extra\s*==\s*["']{re.escape(extra)}["']""", req):
            names.add(re.split(r"[\s\[<>=!~;(]", req, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def test_every_module_of_an_extra_is_brought_by_that_extra(capsys):
    providers = metadata.packages_distributions()
    unchecked = []
    for extra, modules in EXTRAS.items():
        required = _requirements_of(extra)
        assert required, f"extra {extra!r} is in the table but not in the package metadata"
        for module in modules:
            dists = {d.lower().replace("_", "-") for d in providers.get(module, [])}
            if not dists:  # not installed here (tensorrt, cuda): its distribution cannot be read
                unchecked.append(f"{extra}:{module}")
                continue
            assert dists & required, f"{module} (from {dists}) is not required by inrgan-export[{extra}] ({required})"
    with capsys.disabled():
        if unchecked:
            print(f"\n  not installed, not checked: {', '.join(unchecked)}")


def test_the_check_catches_a_module_its_extra_does_not_bring():
    """Must-fail: torch is not brought by the openvino extra."""
    providers = metadata.packages_distributions()
    dists = {d.lower() for d in providers.get("torch", [])}
    assert dists and not dists & _requirements_of("openvino")
