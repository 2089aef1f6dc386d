"""Put first on PYTHONPATH by the tests (netguard.subprocess_env) for every process they start: the network guard
is installed before any moediag code runs, so the product itself carries no test harness."""

import importlib.util
import os

_spec = importlib.util.spec_from_file_location("_moediag_netguard", os.path.join(os.path.dirname(__file__), "..",
                                                                                  "netguard.py"))
_netguard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_netguard)
_netguard.install_from_env()
