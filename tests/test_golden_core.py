"""Golden-fixture tests for the core op families.

Every case of tests/golden/{elementwise,reduce,shape_index,matmul}.json is a
test whose id is the case id, e.g. ``test_reduce[max_dim_ties]``. Each one
evaluates the case's PyTorch ``call`` with ``torch`` bound to rustdl and checks
outputs and gradients against the stored PyTorch results (see golden_harness).
"""

import golden_harness as gh
import pytest


@pytest.mark.parametrize("family", gh.ALL_FAMILIES)
def test_golden_files_consistent(family):
    # Needs numpy only: validates the fixture copies and the harness's key parsing.
    gh.check_family_files(family)


@pytest.mark.parametrize("case_id", gh.golden_params("elementwise"))
def test_elementwise(case_id):
    gh.run_case("elementwise", case_id)


@pytest.mark.parametrize("case_id", gh.golden_params("reduce"))
def test_reduce(case_id):
    gh.run_case("reduce", case_id)


@pytest.mark.parametrize("case_id", gh.golden_params("shape_index"))
def test_shape_index(case_id):
    gh.run_case("shape_index", case_id)


@pytest.mark.parametrize("case_id", gh.golden_params("matmul"))
def test_matmul(case_id):
    gh.run_case("matmul", case_id)
