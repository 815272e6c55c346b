#!/usr/bin/env python3
"""TLS programs for the socktune integration tests (tests/integration/tls.c).

asyncio mode: an asyncio TLS echo server and an asyncio TLS client in one process.
asyncio's SSL transport runs OpenSSL over memory BIOs (ssl.MemoryBIO), so SSL_get_wfd
is -1 and socktune must leave every SSL_write alone. The client writes a seeded
pattern of small and large pieces (one transport.write per piece, like a protocol
that sends each field on its own), the server echoes everything back, and the client
checks that what came back is what it sent. It prints one line:

    asyncio version=TLSv1.x pieces=N bytes=N sent=SHA256 echoed=SHA256 match=1

sslsocket mode: a blocking ssl.SSLSocket client (OpenSSL on the socket fd itself,
libssl reached through Python's _ssl module, which the dynamic loader brought in with
a local dlopen) that sends the same kind of pattern with one sendall per piece to a
server at 127.0.0.1:PORT, then unwraps (close_notify). It prints:

    sslsocket version=TLSv1.x pieces=N bytes=N sent=SHA256
"""
import argparse
import asyncio
import hashlib
import random
import socket
import ssl
import sys

COMMON = (8, 24, 100, 600)


def sizes(seed, count):
    rnd = random.Random(seed)
    for _ in range(count):
        r = rnd.randrange(1000)
        if r < 700:
            yield COMMON[rnd.randrange(4)]
        elif r < 900:
            yield 1 + rnd.randrange(1100)
        else:
            yield 1 + rnd.randrange(20000)


def pieces(seed, count):
    rnd = random.Random(seed ^ 0x5EED)
    for n in sizes(seed, count):
        yield rnd.randbytes(n)


def versions(ctx, tls):
    if tls == "1.2":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    elif tls == "1.3":
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3


def client_context(tls):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    versions(ctx, tls)
    return ctx


async def echo(args):
    sctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    sctx.load_cert_chain(args.cert, args.key)
    versions(sctx, args.tls)

    async def handle(reader, writer):
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=sctx)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_context(args.tls))

    sent = hashlib.sha256()
    total = 0
    count = 0
    for i, piece in enumerate(pieces(args.seed, args.count)):
        writer.write(piece)
        sent.update(piece)
        total += len(piece)
        count += 1
        if i % 16 == 15:
            await writer.drain()
    await writer.drain()

    echoed = hashlib.sha256()
    got = 0
    while got < total:
        data = await asyncio.wait_for(reader.read(65536), 10)
        if not data:
            break
        echoed.update(data)
        got += len(data)
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    try:
        await writer.wait_closed()
    except (ssl.SSLError, ConnectionError):
        pass
    server.close()
    await server.wait_closed()
    print("asyncio version=%s pieces=%d bytes=%d sent=%s echoed=%s match=%d"
          % (version, count, total, sent.hexdigest(), echoed.hexdigest(),
             int(got == total and sent.digest() == echoed.digest())))


def sslsocket(args):
    # Everything is made and hashed first: between two sendall calls the program
    # does nothing else. (hashlib takes a lock, a sem_wait, for large updates, and
    # sem_wait is one of the points where socktune flushes.)
    todo = list(pieces(args.seed, args.count))
    sent = hashlib.sha256()
    for piece in todo:
        sent.update(piece)
    total = sum(len(p) for p in todo)
    count = len(todo)
    raw = socket.create_connection(("127.0.0.1", args.port))
    s = client_context(args.tls).wrap_socket(raw)
    for piece in todo:
        s.sendall(piece)
    version = s.version()
    raw = s.unwrap()
    raw.close()
    print("sslsocket version=%s pieces=%d bytes=%d sent=%s" % (version, count, total, sent.hexdigest()))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("asyncio", "sslsocket"))
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--port", type=int)
    p.add_argument("--tls", default="any")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=2000)
    args = p.parse_args()
    if args.mode == "asyncio":
        asyncio.run(echo(args))
    else:
        sslsocket(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
