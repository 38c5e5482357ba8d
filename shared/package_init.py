"""Loading part of a package without its __init__, which imports all of it.

redis-py's __init__ imports every client it has (asyncio, cluster, sentinel) where Parley needs its
exceptions; Powertools' imports Logger, Metrics and Tracer where a function that counts a metric needs
Metrics alone (~7 ms of its first request). `defer_package_init(name)` makes the package's module
without running its __init__, so `import name.part` loads that part alone. The first lookup of a name
the package lacks (`import redis; redis.Redis`, `from aws_lambda_powertools import Logger`) runs the
__init__ then, into that same module: the whole package stays reachable, and its __init__ runs once.
tests/unit/test_cache.py and test_package_init.py check both packages.
"""

from __future__ import annotations

import importlib.util
import sys
import threading

_lock = threading.RLock()
_DEFERRED = "__parley_deferred_init__"  # set on a package module while its __init__ has not run


def defer_package_init(name: str) -> None:
    """Unless `name` is imported already: its module, in sys.modules, with its __init__ left for later."""
    with _lock:
        if name in sys.modules:
            return
        spec = importlib.util.find_spec(name)
        package = importlib.util.module_from_spec(spec)
        state = {"init": "deferred"}

        def __getattr__(attribute: str):
            with _lock:  # other threads wait for the __init__ to finish
                if state["init"] == "deferred":
                    state["init"] = "running"  # its own lookups (its submodules) fall through to the import
                    try:
                        spec.loader.exec_module(package)
                    except BaseException:
                        state["init"] = "deferred"
                        raise
                    del package.__getattr__
                    delattr(package, _DEFERRED)
                    state["init"] = "done"
            try:
                return package.__dict__[attribute]
            except KeyError:
                raise AttributeError(f"module {name!r} has no attribute {attribute!r}") from None

        package.__getattr__ = __getattr__
        setattr(package, _DEFERRED, True)
        sys.modules[name] = package


def package_init_ran(name: str) -> bool:
    """Whether `name` is imported with its __init__ run (not deferred, or run since)."""
    module = sys.modules.get(name)
    return module is not None and not module.__dict__.get(_DEFERRED, False)
