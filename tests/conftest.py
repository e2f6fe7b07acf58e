"""Pytest configuration for the rustdl tests."""

import sys
from pathlib import Path

import pytest

# Let test modules `import golden_harness` whatever pytest's import mode is.
sys.path.insert(0, str(Path(__file__).parent))


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "golden(description): a golden-fixture case; its description is shown when the test fails",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Append the golden case (call, kwargs, inputs, ...) to a failing test's report."""
    report = yield
    marker = item.get_closest_marker("golden")
    if marker is not None and report.failed and report.when == "call":
        if hasattr(report.longrepr, "addsection"):
            report.longrepr.addsection(
                "golden case", marker.args[0]
            )  # printed right under the traceback
        else:
            report.sections.append(("golden case", marker.args[0]))
    return report
