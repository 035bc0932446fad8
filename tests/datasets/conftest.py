"""Fixtures for the dataset tests: the loaders must never touch the network."""

import socket

import pytest


class NetworkAccessError(RuntimeError):
    """Raised when a dataset test opens a network connection."""


def _refuse(*args, **kwargs):
    raise NetworkAccessError(
        "A dataset loader tried to use the network; skpoison's loaders must "
        "read installed files only."
    )


@pytest.fixture(autouse=True, scope="module")
def _no_network():
    # Module scope, so that module-scoped data fixtures (instantiated before
    # function-scoped ones) are guarded too; undone after each module so that
    # tests elsewhere in the session are unaffected.
    with pytest.MonkeyPatch.context() as mp:
        for name in ("connect", "connect_ex", "sendto", "sendmsg"):
            mp.setattr(socket.socket, name, _refuse)
        mp.setattr(socket, "create_connection", _refuse)
        mp.setattr(socket, "getaddrinfo", _refuse)
        yield
