"""What the local stand-ins that speak HTTP (the endpoint, the Feature Store runtime) share: the
server and how it runs until interrupted."""

from __future__ import annotations

from http.server import ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True  # a hung client never keeps the process alive
    allow_reuse_address = True
    request_queue_size = 128  # listen backlog: socketserver's default 5 drops bursts of new connections


def serve_until_interrupted(server: ThreadingHTTPServer) -> int:
    """Serve until Ctrl-C (or SIGINT from the process that started it); 0, the CLI's exit status."""
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
