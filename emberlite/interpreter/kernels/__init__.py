"""Reference kernels (NumPy), one op per unit, grouped into modules by family.

Importing this package imports every module in it, and each module registers its kernels in
emberlite.interpreter.registry.KERNELS: adding an op is adding a unit to one module.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
