"""Run a server script as ``__main__`` and stop it when our standard input closes.

    python -m harness.launch steps/04_response/server.py --port 0
    python -m harness.launch -m uvicorn server:app --port 0     # a module, as python -m runs it

The script runs exactly as ``python SCRIPT ARGS`` would run it. The one addition is a
watchdog: whoever started us holds the write end of our stdin, and if that process
dies (a notebook kernel that is restarted or killed, a test run stopped with kill -9)
the pipe closes. We then stop ourselves the same way Ctrl-C would, so a server is
never left running with nobody to talk to it.
"""

import _thread
import os
import runpy
import signal
import sys
import threading

GRACE_SECONDS = 5.0


def _stop_when_stdin_closes() -> None:
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    # Same path as Ctrl-C: the script's KeyboardInterrupt handling runs. The signal
    # must reach the main thread: sent to this thread (signal.raise_signal does that),
    # it would not wake a main thread that sleeps in the event loop's select().
    if hasattr(signal, "pthread_kill"):
        main_thread = threading.main_thread().ident
        assert main_thread is not None  # it has started: this code runs beside it
        signal.pthread_kill(main_thread, signal.SIGINT)
    else:  # Windows: no pthread_kill; raise KeyboardInterrupt in the main thread
        _thread.interrupt_main()
    # If the script ignores it, leave anyway after a grace period.
    killer = threading.Timer(GRACE_SECONDS, os._exit, args=(1,))
    killer.daemon = True
    killer.start()


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1:2] == ["-m"] and len(sys.argv) < 3:
        sys.exit("usage: python -m harness.launch SCRIPT [ARGS...] | -m MODULE [ARGS...]")
    module = sys.argv[2] if sys.argv[1] == "-m" else None
    if module:
        sys.argv = [module, *sys.argv[3:]]
        sys.path[0] = os.getcwd()  # as if started with `python -m MODULE`
    else:
        script = os.path.abspath(sys.argv[1])
        sys.argv = [script, *sys.argv[2:]]
        sys.path[0] = os.path.dirname(script)  # as if started with `python SCRIPT`
    # We stop servers with Ctrl-C (SIGINT). A program started in the background by a
    # non-interactive shell (`cmd &`, nohup, some CI runners) inherits SIGINT ignored,
    # and Python then leaves it ignored: the server would never hear it. Give it
    # Python's usual handler, the one that raises KeyboardInterrupt.
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_stop_when_stdin_closes, daemon=True).start()
    if module:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:
        runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
