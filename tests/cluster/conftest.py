"""One Ray cluster for the whole test session (starting one costs seconds): the in-process
tests use it directly, the CLI tests connect to it with ``--address``."""
from __future__ import annotations

import os

import pytest

from inrgan_export.cluster.render_many import CRASH_ONCE_ENV


@pytest.fixture(scope="session")
def crash_marker(tmp_path_factory):
    """Where a test arms the one-shot worker crash (workers inherit the variable from the
    raylet, which inherits it from this process: so it is set before the cluster starts)."""
    return tmp_path_factory.mktemp("crash") / "crash-once"


@pytest.fixture(scope="session")
def ray_cluster(crash_marker):
    ray = pytest.importorskip("ray", reason="the cluster extra is not installed (pip install 'inrgan-export[cluster]')")
    import logging

    os.environ[CRASH_ONCE_ENV] = str(crash_marker)
    ctx = ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ctx.address_info["gcs_address"]
    ray.shutdown()
    os.environ.pop(CRASH_ONCE_ENV, None)
