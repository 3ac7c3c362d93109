"""Wire-level faults the test servers share: what a dying server does to its connections."""

import contextlib
import socket
import struct
from http.server import BaseHTTPRequestHandler


def reset_connection(handler: BaseHTTPRequestHandler) -> None:
    """Drop the handler's connection with a TCP RST and no response, as the kernel does for a
    process that died."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    for stream in (handler.rfile, handler.wfile):
        with contextlib.suppress(OSError):
            stream.close()
    handler.connection.close()
