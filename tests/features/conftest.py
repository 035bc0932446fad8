"""Fixtures for the embedder tests: the network must never be touched."""

import socket

import pytest

_INET = (socket.AF_INET, socket.AF_INET6)


class NetworkAccessError(AssertionError):
    """Raised when code under test tries to reach the network."""


def network_guard(monkeypatch):
    """Make internet sockets and name resolution raise :class:`NetworkAccessError`.

    Local (``AF_UNIX``) sockets keep working.
    """
    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex

    def guarded(original):
        def method(self, address, *args, **kwargs):
            if self.family in _INET:
                raise NetworkAccessError(f"network access attempted: {address!r}")
            return original(self, address, *args, **kwargs)
        return method

    def refuse(*args, **kwargs):
        raise NetworkAccessError(f"name resolution attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded(connect))
    monkeypatch.setattr(socket.socket, "connect_ex", guarded(connect_ex))
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(autouse=True, scope="package")
def no_network():
    """Active for every test and fixture of this package, module-scoped ones too."""
    with pytest.MonkeyPatch.context() as mp:
        network_guard(mp)
        yield

