"""Every registered family has a small test fixture (Optimum-style completeness check)."""
from inrgan_export.families import FAMILIES, get_family

from .conftest import FAMILY_FIXTURES


def test_every_family_has_a_test_fixture():
    get_family("paper")  # loads the built-in families
    missing = sorted(set(FAMILIES) - set(FAMILY_FIXTURES))
    assert not missing, f"families without a test fixture in tests/conftest.py: {missing}"


def test_fixture_presets_exist():
    from inrgan_export.families import all_presets

    presets = all_presets()
    for family, src in FAMILY_FIXTURES.items():
        name = src.split(":", 1)[1]
        assert presets[name][0].name == family
