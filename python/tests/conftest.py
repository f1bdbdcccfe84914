import os

# scikit-learn's check_array_api_input (run by parametrize_with_checks for every estimator, with
# the NumPy namespace) skips itself unless SciPy's array API mode is on; it must be set before
# SciPy is first imported, so here, ahead of every test module.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(20240611)
