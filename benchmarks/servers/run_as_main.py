"""Run a script or a module as ``__main__``, optionally on uvloop, optionally profiled.

    python run_as_main.py [--uvloop] [--profile FILE] SCRIPT ARGS...     # as `python SCRIPT ARGS...`
    python run_as_main.py [--uvloop] [--profile FILE] -m MODULE ARGS...  # as `python -m MODULE ARGS...`

The runner starts every server as a script (through harness.launch); this lets it
start a module too (`python -m protoweb ...`), and run servers that have no --loop
option of their own (the solution, the steps) on uvloop: we install uvloop's event
loop policy, and their asyncio.run() then makes a uvloop loop. (Event loop policies
are deprecated from Python 3.14 on, but still work.)

``--profile FILE`` runs it under pyinstrument (benchmarks/profile_server.py uses this): one
sampling profile of the whole main thread, event loop included, from start to exit.
When the server stops (Ctrl-C, SIGTERM, or an exception) the session is saved to
FILE (pyinstrument's ``.pyisession`` JSON; `pyinstrument --load FILE` renders it).
"""

import asyncio
import os
import runpy
import sys

USAGE = "usage: python run_as_main.py [--uvloop] [--profile FILE] (SCRIPT | -m MODULE) [ARGS...]"


def run(args):
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


def run_profiled(args, session_file):
    from pyinstrument import Profiler

    # async_mode="disabled": sample whatever the thread is doing, the event loop's
    # select() and callbacks included. (The default follows one async context and
    # attributes the time it is suspended to its `await`: right for profiling one
    # coroutine, wrong for a server, whose cost is spread over many callbacks.)
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        run(args)
    finally:  # a server stopped by Ctrl-C may leave by KeyboardInterrupt: save anyway
        profiler.stop().save(session_file)


args = sys.argv[1:]
session_file = None
while args[:1] in (["--uvloop"], ["--profile"]):
    if args[0] == "--uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        args = args[1:]
    elif len(args) >= 2:
        session_file = args[1]
        args = args[2:]
    else:
        sys.exit(USAGE)

if session_file is None:
    run(args)
else:
    run_profiled(args, session_file)
