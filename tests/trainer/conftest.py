"""GPU checks (marker `gpu`) run only where numba sees a GPU or its simulator is on.

In the default suite the simulator is off (turning it on in-process would make every later
test see a GPU), so test_cuda.test_gpu_checks_under_simulator runs them in a subprocess; here
they are deselected, not skipped, because they do run.
"""

import os

GPU_PROCESS = (
    os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
    or os.environ.get("EMBERLITE_CUDA_TESTS") == "device"
)


def pytest_collection_modifyitems(config, items):
    if GPU_PROCESS:
        return
    gpu = [item for item in items if item.get_closest_marker("gpu")]
    if gpu:
        config.hook.pytest_deselected(items=gpu)
        items[:] = [item for item in items if not item.get_closest_marker("gpu")]
