"""The load engine's HTTP client against raw loopback servers that answer byte for byte what a test says."""

from __future__ import annotations

import asyncio
import ssl

import pytest
from tls_cert import self_signed as _self_signed

from loadgen.engine import classify
from loadgen.transport import Client, ConnectError, ResponseError, request_bytes


async def raw_server(answer: bytes, *, close_after: bool = False, tls: ssl.SSLContext | None = None):
    """Answers every request (head + Content-Length body) with ``answer``; counts connections."""
    seen = {"connections": 0, "requests": []}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                seen["requests"].append(head + await reader.readexactly(length))
                writer.write(answer)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=tls)
    return server, server.sockets[0].getsockname()[1], seen


def test_request_bytes_are_one_complete_request():
    data = request_bytes("http://127.0.0.1:8000/predict?x=1", "POST", b'{"a": 1}', "application/json")
    assert data == (
        b"POST /predict?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\n"
        b'Content-Length: 8\r\n\r\n{"a": 1}'
    )
    assert request_bytes("http://h/", "GET", b"", None) == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"


async def test_keep_alive_reuses_connections_and_reads_chunked_bodies():
    chunked = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    server, port, seen = await raw_server(chunked)
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        data = request_bytes(f"http://127.0.0.1:{port}/x", "POST", b"{}", "application/json")

        async def worker():
            return [await client.request(data) for _ in range(25)]

        results = await asyncio.gather(*(worker() for _ in range(4)))
        client.close()
    assert [s for r in results for s in r] == [201] * 100
    assert len(seen["requests"]) == 100 and seen["requests"][0].endswith(b"\r\n\r\n{}")
    assert seen["connections"] <= 4


async def test_connection_close_is_honoured_and_not_an_error():
    server, port, seen = await raw_server(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", close_after=True
    )
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        statuses = [await client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") for _ in range(5)]
        client.close()
    assert statuses == [200] * 5 and seen["connections"] == 5


@pytest.mark.parametrize(
    "answer, error, kind",
    [
        (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", ResponseError, "bad_response"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ntruncated", ConnectionResetError, "reset"),
        (b"HTTP/1.0 200 OK\r\n\r\nbody until close", ConnectionResetError, "reset"),
    ],
)
async def test_broken_answers_raise_and_are_classified(answer, error, kind):
    server, port, _ = await raw_server(answer, close_after=True)
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        with pytest.raises(error) as info:
            await client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        client.close()
    assert classify(info.value) == kind


async def test_a_silent_server_times_out_and_its_socket_is_dropped():
    server, port, _ = await raw_server(b"")  # reads requests, never answers
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=0.2, loop=asyncio.get_running_loop())
        with pytest.raises(TimeoutError) as info:
            await client.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert classify(info.value) == "timeout" and not client.open and not client.idle


async def test_https_verifies_the_certificate(tmp_path, monkeypatch):
    tls, cert_file = _self_signed(tmp_path)
    server, port, _ = await raw_server(b"HTTP/1.1 204 No Content\r\n\r\n", tls=tls)
    async with server:
        untrusting = Client(f"https://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        with pytest.raises(ConnectError) as info:
            await untrusting.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert classify(info.value) == "connect_error" and "certificate" in str(info.value).lower()
        monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # the default context trusts it from here on
        trusting = Client(f"https://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        assert await trusting.request(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == 204
        trusting.close()


async def scripted_server(*answers: bytes, cut: bool = False):
    """Each connection answers its i-th request with ``answers[i]``; the request after the last is read and
    the connection closed without a byte (what a server does when its keep-alive timeout fires just as a
    request arrives on an idle connection). ``cut``: the last answer is cut short, the connection closed
    right after it."""
    seen = {"connections": 0, "requests": 0}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen["connections"] += 1
        try:
            for answer in answers:
                await reader.readuntil(b"\r\n\r\n")
                seen["requests"] += 1
                writer.write(answer)
                await writer.drain()
            if not cut:
                await reader.readuntil(b"\r\n\r\n")
                seen["requests"] += 1
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


NO_CONTENT = b"HTTP/1.1 204 No Content\r\n\r\n"


async def test_a_reused_connection_closed_unanswered_is_retried_once_on_a_new_one():
    server, port, seen = await scripted_server(NO_CONTENT)
    async with server:
        retried: list[int] = []
        client = Client(
            f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop(), on_retry=lambda: retried.append(1)
        )
        data = request_bytes(f"http://127.0.0.1:{port}/", "GET", b"", None)
        statuses = [await client.request(data) for _ in range(4)]
        client.close()
    # Each request after the first goes out on the idle connection, is dropped, and succeeds on a new one.
    assert statuses == [204] * 4
    assert client.retries == len(retried) == 3 and seen["connections"] == 4 and seen["requests"] == 7


async def test_no_retry_on_a_new_connection_or_once_the_answer_has_begun():
    data = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    # A fresh connection closed unanswered is the server's doing: a reset, not retried.
    server, port, seen = await scripted_server()
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        with pytest.raises(ConnectionResetError):
            await client.request(data)
        client.close()
    assert client.retries == 0 and seen["connections"] == 1
    # A reused connection whose answer begins and is cut short: the request was read, so it is not sent again.
    server, port, seen = await scripted_server(
        NO_CONTENT, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", cut=True
    )
    async with server:
        client = Client(f"http://127.0.0.1:{port}/", timeout=2, loop=asyncio.get_running_loop())
        assert await client.request(data) == 204
        with pytest.raises(ConnectionResetError):
            await client.request(data)
        client.close()
    assert client.retries == 0 and seen["connections"] == 1 and seen["requests"] == 2
