"""Options shared by every test folder (pytest reads options only from the root conftest)."""


def pytest_addoption(parser):
    parser.addoption(
        "--server",
        metavar="PATH",
        default=None,
        help="run the step tests against this server.py instead of the step's own "
        "(check your own implementation); also read from the STEP_SERVER environment variable",
    )
    parser.addoption(
        "--client",
        metavar="PATH",
        default=None,
        help="run the step tests with this client.py instead of the step's own "
        "(also read from the STEP_CLIENT environment variable)",
    )
