"""python -m protoweb module:app [--app-dir DIR] [--host H] [--port P] [--request-timeout 5 ...]

Imports the App and serves it; ``--port 0`` picks a free port, and the log says
which: ``Listening on H:P``. Every field of Config is an option. From the
repository root: ``python -m protoweb hello_world:app --app-dir solution/examples``.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import os
import sys

from protoweb.app import App
from protoweb.config import Config
from protoweb.log import configure_logging
from protoweb.server import run


def load_app(location: str, app_dir: str = ".") -> App:
    """``hello_world:app`` -> that App, the module looked for in ``app_dir`` first (the
    attribute may be dotted)."""
    module_name, _, attribute = location.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:attribute, e.g. hello_world:app, got {location!r}")
    sys.path.insert(0, os.path.abspath(app_dir))  # as `python -m` does for the working directory
    target = importlib.import_module(module_name)
    for name in attribute.split("."):
        target = getattr(target, name)
    if not isinstance(target, App):
        raise ValueError(f"{location} is a {type(target).__name__}, not a protoweb.App")
    return target


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m protoweb", description="Serve a protoweb App.",
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the example stays on one line
        epilog="example, from the repository root:\n  python -m protoweb hello_world:app --app-dir solution/examples")
    parser.add_argument("app", help="where the App is, as module:attribute (e.g. hello_world:app)")
    parser.add_argument("--app-dir", default=".",
                        help="the folder to import the module from (default: the current one)")
    parser.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default: 8000)")
    parser.add_argument("--loop", default="asyncio", choices=["asyncio", "uvloop"],
                        help="the event loop (uvloop: pip install uvloop)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    for field in dataclasses.fields(Config):
        option = "--" + field.name.replace("_", "-")
        if field.type == "bool":
            parser.add_argument(option, action=argparse.BooleanOptionalAction, default=None,
                                help=f"(default: {field.default})")
        else:
            parser.add_argument(option, type=float if field.type == "float" else int, default=None,
                                help=f"(default: {field.default})")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    configure_logging(args.log_level)
    try:
        app = load_app(args.app, args.app_dir)
    except (ImportError, AttributeError, ValueError) as error:
        sys.exit(f"python -m protoweb: cannot load {args.app}: {error}")
    settings = {
        field.name: getattr(args, field.name)
        for field in dataclasses.fields(Config)
        if getattr(args, field.name) is not None
    }
    try:
        config = dataclasses.replace(app.config, **settings)  # Config checks its fields: say so in one line
    except ValueError as error:
        sys.exit(f"python -m protoweb: {error}")
    run(app.dispatch, config, args.host, args.port, args.loop)  # what app.run does, with this Config


if __name__ == "__main__":
    main()
