"""Run ``python -m protoweb ARGS`` as a script, for harness.ServerProcess (which starts scripts).

    ServerProcess(APPS / "protoweb_cli.py", "feature_app:app", "--request-timeout", "0.5")

Every black-box test thus goes through the real command line. With the environment
variable PROTOWEB_TEST_UVLOOP=1 the server runs on uvloop (``--loop uvloop``; pip install
uvloop): ``PROTOWEB_TEST_UVLOOP=1 pytest solution/tests`` checks protoweb on that loop too.
"""

import os
import runpy
import sys

if os.environ.get("PROTOWEB_TEST_UVLOOP"):
    sys.argv.extend(["--loop", "uvloop"])

runpy.run_module("protoweb", run_name="__main__", alter_sys=True)
