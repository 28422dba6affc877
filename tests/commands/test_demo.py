"""The shipped demo table (read by ``demo --list`` without PyTorch) matches the family registry."""
from __future__ import annotations

from inrgan_export.commands.demo import build_table, load_table


def test_the_shipped_table_is_the_registry():
    # regenerate with: python -m inrgan_export.commands.demo > inrgan_export/commands/data/demo_presets.json
    assert load_table() == build_table()
