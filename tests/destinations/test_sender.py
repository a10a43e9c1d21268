"""The sender: kept-alive connections, and receivers that misbehave at the HTTP level."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from trustable.destinations.sender import Sender, target

Answer = Callable[[socket.socket, int], None]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"


class RawReceiver:
    """A loopback server speaking HTTP/1.1 by hand, to misbehave exactly as told:
    `answer(conn, n)` answers the n-th request (counted over all connections)."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests = 0
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._exchange(conn)
            except OSError:  # the client went away, or an answer hung up on purpose
                return

    def _exchange(self, conn: socket.socket) -> None:
        pending = b""
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, rest = pending.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(rest) < length:
                rest += conn.recv(65536)
            pending = rest[length:]
            self.requests += 1
            self.answer(conn, self.requests)

    def close(self) -> None:
        self._sock.close()


@pytest.fixture
def sender() -> Iterator[Sender]:
    found = Sender()
    yield found
    found.close()


def post(sender: Sender, receiver: RawReceiver) -> str | None:
    return sender.post(target(receiver.url, 2.0), b'{"id": 1}', {"Idempotency-Key": "k"})


def test_a_kept_alive_connection_is_reused(sender: Sender) -> None:
    receiver = RawReceiver(lambda conn, n: conn.sendall(OK))
    assert [post(sender, receiver) for _ in range(3)] == [None, None, None]
    assert receiver.requests == 3 and receiver.connections == 1
    receiver.close()


def test_a_connection_the_receiver_closed_while_idle_is_replaced_once(sender: Sender) -> None:
    def answer_then_hang_up(conn: socket.socket, n: int) -> None:
        conn.sendall(OK)  # says nothing of closing, then closes anyway
        conn.shutdown(socket.SHUT_RDWR)
        raise OSError("closed")

    receiver = RawReceiver(answer_then_hang_up)
    assert post(sender, receiver) is None
    assert post(sender, receiver) is None  # resent on a fresh connection
    assert receiver.requests == 2 and receiver.connections == 2
    receiver.close()


def test_a_redirect_is_not_followed(sender: Sender) -> None:
    moved = b"HTTP/1.1 302 Found\r\nLocation: http://example.org/\r\nContent-Length: 0\r\n\r\n"
    receiver = RawReceiver(lambda conn, n: conn.sendall(moved))
    assert post(sender, receiver) == "HTTP 302"
    assert receiver.requests == 1
    receiver.close()


def test_a_huge_answer_is_not_read_to_the_end(sender: Sender) -> None:
    size = 8 * 1024 * 1024
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size

    def flood(conn: socket.socket, n: int) -> None:
        conn.sendall(huge + b"x" * (256 * 1024))  # the rest never comes

    receiver = RawReceiver(flood)
    assert post(sender, receiver) is None
    assert post(sender, receiver) is None  # on a new connection: the old one was dropped
    assert receiver.connections == 2
    receiver.close()


def test_garbage_is_a_transport_error(sender: Sender) -> None:
    receiver = RawReceiver(lambda conn, n: conn.sendall(b"\x00\x01 not http\r\n\r\n"))
    assert post(sender, receiver) == "transport error (BadStatusLine)"
    receiver.close()


def test_a_destination_url_is_checked_when_parsed() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        target("ftp://example.org/hook", 1.0)
    assert target("https://example.org", 1.0).path == "/"
    assert target("http://example.org:8080/a?b=1", 1.0).path == "/a?b=1"
