"""Run a script or a module as ``__main__``, optionally on uvloop.

    python run_as_main.py [--uvloop] SCRIPT ARGS...       # as `python SCRIPT ARGS...`
    python run_as_main.py [--uvloop] -m MODULE ARGS...    # as `python -m MODULE ARGS...`

The runner starts every server as a script (through harness.launch); this lets it
start a module too (`python -m protoweb ...`), and run servers that have no --loop
option of their own (the solution, the steps) on uvloop: we install uvloop's event
loop policy, and their asyncio.run() then makes a uvloop loop. (Event loop policies
are deprecated from Python 3.14 on, but still work.)
"""

import asyncio
import os
import runpy
import sys

USAGE = "usage: python run_as_main.py [--uvloop] (SCRIPT | -m MODULE) [ARGS...]"

args = sys.argv[1:]
if args[:1] == ["--uvloop"]:
    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    args = args[1:]

if args[:1] == ["-m"] and len(args) >= 2:
    sys.argv = [args[1], *args[2:]]
    sys.path[0] = os.getcwd()  # as `python -m` does
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
elif args and args[0] != "-m":
    script = os.path.abspath(args[0])
    sys.argv = [script, *args[1:]]
    sys.path[0] = os.path.dirname(script)  # as `python SCRIPT` does
    runpy.run_path(script, run_name="__main__")
else:
    sys.exit(USAGE)
