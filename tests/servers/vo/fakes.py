"""Faults a real DaCHS cannot be made to produce, served by tiny loopback HTTP servers named for the fault.

    with FakeMalformedVOTableServer() as fake:  # answers every request with a broken VOTable
        obscore_search(f"{fake.url}/tap", ...)
"""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VOTABLE_TYPE = "application/x-votable+xml"

MALFORMED_VOTABLE = b"""<?xml version="1.0"?>
<VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">
 <RESOURCE type="results"><INFO name="QUERY_STATUS" value="OK"/>
  <TABLE><FIELD name="obs_publisher_did" datatype="char" arraysize="*"/>
   <DATA><TABLEDATA><TR><TD>ivo://broken/1</TD></TR><TR><TD>unterminated
"""


def datalink_document(rows: list[tuple[str, str, str]]) -> bytes:
    """A valid DataLink response with (ID, access_url, semantics) rows."""
    body = "".join(f"<TR><TD>{i}</TD><TD>{u}</TD><TD></TD><TD></TD><TD>{s}</TD><TD></TD><TD>image/fits</TD>"
                   f"<TD>5760</TD></TR>" for i, u, s in rows)
    fields = "".join(f'<FIELD name="{name}" datatype="{kind}" {size}/>' for name, kind, size in [
        ("ID", "char", 'arraysize="*"'), ("access_url", "char", 'arraysize="*"'),
        ("service_def", "char", 'arraysize="*"'), ("error_message", "char", 'arraysize="*"'),
        ("semantics", "char", 'arraysize="*"'), ("description", "char", 'arraysize="*"'),
        ("content_type", "char", 'arraysize="*"'), ("content_length", "long", "")])
    return (f'<?xml version="1.0"?><VOTABLE version="1.4" xmlns="http://www.ivoa.net/xml/VOTable/v1.3">'
            f'<RESOURCE type="results"><INFO name="standardID" value="ivo://ivoa.net/std/DataLink#links-1.1"/>'
            f'<TABLE>{fields}<DATA><TABLEDATA>{body}</TABLEDATA></DATA></TABLE></RESOURCE></VOTABLE>').encode()


class FakeVOServer:
    """Answers every GET and POST with one fixed body; records the paths and query strings it saw."""

    def __init__(self, body: bytes, content_type: str = VOTABLE_TYPE, status: int = 200) -> None:
        self.body, self.content_type, self.status = body, content_type, status
        self.requests: list[str] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.requests.append(self.path)
                self._answer()

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                fake.requests.append(f"{self.path} {self.rfile.read(length).decode(errors='replace')}")
                self._answer()

            def _answer(self) -> None:
                self.send_response(fake.status)
                self.send_header("Content-Type", fake.content_type)
                self.send_header("Content-Length", str(len(fake.body)))
                self.end_headers()
                self.wfile.write(fake.body)

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> "FakeVOServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class FakeMalformedVOTableServer(FakeVOServer):
    """A TAP/DataLink endpoint whose every answer is a truncated VOTable."""

    def __init__(self) -> None:
        super().__init__(MALFORMED_VOTABLE)


class FakeDataLinkWithoutThisServer(FakeVOServer):
    """A DataLink endpoint that lists only a #preview link for the given identifier, no #this."""

    def __init__(self, identifier: str) -> None:
        super().__init__(datalink_document([(identifier, "http://127.0.0.1:9/preview.png", "#preview")]))
