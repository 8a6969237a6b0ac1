"""A WinRM (WS-Management / WinRS) server on loopback for one simulated Windows host.

It speaks the subset of the protocol that pywinrm 0.5.0 (winrm/protocol.py) and Ansible's winrm
connection plugin use, over plain HTTP with Basic auth:

  Create  (transfer/Create, body rsp:Shell)          -> x:ResourceCreated + ShellId selector
  Command (shell/Command, body rsp:CommandLine)      -> rsp:CommandResponse/rsp:CommandId
  Send    (shell/Send, rsp:Stream Name=stdin, base64, End="true" on the last chunk)
  Receive (shell/Receive, rsp:DesiredStream)        -> rsp:Stream stdout/stderr (base64) and
                                                       rsp:CommandState .../Done + rsp:ExitCode
  Signal  (shell/Signal, rsp:Code .../terminate)    -> rsp:SignalResponse
  Delete  (transfer/Delete)                         -> empty body

Every request needs the cmd ResourceURI and (except Create) a ShellId selector; every reply
carries a:RelatesTo = the request's a:MessageID (pywinrm asserts it for Signal and Delete).
Errors are SOAP faults with HTTP 500, parsed by pywinrm into WSManFaultError; the
f:WSManFault Code values that clients act on are the real ones (2150858843 shell not found,
2150858793 operation timeout, which pywinrm retries silently); others are approximations.

The command runs when its output is first asked for (the first Receive), once stdin is complete,
via dispatch.execute() against the host.  Nothing here knows about Ansible payloads.

serve(host, port, username, password) starts a server in a background thread and returns it.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import logging
import threading
import time
import typing as t
import uuid
import xml.etree.ElementTree as ET
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape, quoteattr

import dispatch

log = logging.getLogger("winsim.wsman")

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
RESOURCE_CMD = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
TRANSFER = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
SHELL = NS["rsp"]
ACTIONS = {
    TRANSFER + "/Create": "Create",
    TRANSFER + "/Delete": "Delete",
    SHELL + "/Command": "Command",
    SHELL + "/Send": "Send",
    SHELL + "/Receive": "Receive",
    SHELL + "/Signal": "Signal",
}
ANONYMOUS = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
STATE_DONE = SHELL + "/CommandState/Done"
STATE_RUNNING = SHELL + "/CommandState/Running"
SIGNAL_TERMINATE = SHELL + "/signal/terminate"

# Real fault codes that clients act on.
FAULT_SHELL_NOT_FOUND = 2150858843  # 0x8033805B
FAULT_OPERATION_TIMEOUT = 2150858793  # 0x80338029, pywinrm -> WinRMOperationTimeoutError
# Approximations (nothing in pywinrm/ansible looks at these).
FAULT_INVALID = 2150858752  # 0x80338000 ERROR_WSMAN_RESOURCE_NOT_FOUND-ish
FAULT_ENVELOPE_TOO_LARGE = 2150858817

MAX_REQUEST_ENVELOPE = 500 * 1024  # WinRM's default MaxEnvelopeSizekb
DEFAULT_MAX_ENVELOPE = 153600  # what pywinrm sends as w:MaxEnvelopeSize
STDIN_WAIT = 1.0  # seconds a Receive waits for stdin to end before an OperationTimeout fault


class WSManFault(Exception):
    def __init__(self, reason: str, wsman_code: int = FAULT_INVALID, subcode: str = "w:InvalidParameter",
                 code: str = "s:Sender", status: int = 500):
        super().__init__(reason)
        self.reason, self.wsman_code, self.subcode, self.code, self.status = reason, wsman_code, subcode, code, status


class ConnectionLost(Exception):
    """The address this connection runs over went away on the host: no answer, the socket just closes."""


class Command:
    def __init__(self, shell: "Shell", command: str, arguments: str):
        self.id = str(uuid.uuid4()).upper()
        self.shell = shell
        self.command = command
        self.arguments = arguments
        self.stdin: list[bytes] = []
        self.stdin_started = False
        self.stdin_ended = False
        self.http_requests = 1  # the Command request itself
        self.outcome: dispatch.Outcome | None = None
        self.out_pos = 0
        self.err_pos = 0
        self.finished = False
        self.run_lock = threading.Lock()


class Shell:
    """A remote shell: its commands, and the streams it echoes back (codepage and environment are not simulated)."""

    def __init__(self, input_streams: str, output_streams: str):
        self.id = str(uuid.uuid4()).upper()
        self.input_streams = input_streams
        self.output_streams = output_streams
        self.commands: dict[str, Command] = {}


class WinRMServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim_host: t.Any, username: str, password: str):
        self.sim_host = sim_host
        self.username = username
        self.password = password
        self.state_lock = threading.Lock()  # shells, commands, counters
        self.host_lock = threading.Lock()  # one call into the simulated host at a time
        # A script that waits (the run lock) lets other calls in meanwhile (SimHost.pause); the account WinRM runs as.
        sim_host.call_lock, sim_host.winrm_user = self.host_lock, username
        self.request_count = 0
        self.shells: dict[str, Shell] = {}
        self._thread: threading.Thread | None = None
        super().__init__(address, Handler)

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def host_name(self) -> str:
        return str(getattr(self.sim_host, "name", "winsim"))

    def verify_request(self, request, client_address) -> bool:
        # Loopback clients only.
        return _is_loopback(client_address[0])

    def start(self) -> "WinRMServer":
        self._thread = threading.Thread(target=self.serve_forever, name=f"winsim-{self.host_name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; commands never signalled are logged to the host as they stand."""
        self.shutdown()
        self.server_close()
        with self.state_lock:
            pending = [c for s in self.shells.values() for c in s.commands.values()]
            self.shells.clear()
        for cmd in pending:
            self.finish_command(cmd)

    # -- command execution and bookkeeping --------------------------------------------------

    def run_command(self, cmd: Command) -> dispatch.Outcome:
        with cmd.run_lock:
            if cmd.outcome is None:
                stdin = b"".join(cmd.stdin)
                with self.host_lock:
                    try:
                        cmd.outcome = dispatch.execute(self.sim_host, cmd.command, cmd.arguments, stdin, self.username)
                    except Exception as exc:  # a bug in dispatch; answer like a crashed process
                        log.exception("%s: command %s failed", self.host_name, cmd.id)
                        cmd.outcome = dispatch.Outcome(b"", f"winsim internal error: {exc!r}\r\n".encode(), 1,
                                                       {"kind": "unknown", "module": None, "script_tag": None,
                                                        "check_mode": False})
                entry = cmd.outcome.log
                log.info("%s: %s %s rc=%d", self.host_name, entry.get("kind"),
                         entry.get("module") or entry.get("detail", ""), cmd.outcome.rc)
            return cmd.outcome

    def finish_command(self, cmd: Command) -> None:
        """Log a command to the host once: at Signal, shell Delete or server stop."""
        with self.state_lock:
            if cmd.finished:
                return
            cmd.finished = True
            cmd.shell.commands.pop(cmd.id, None)
        if cmd.outcome is not None:
            entry = dict(cmd.outcome.log)
        else:  # never asked for output: classify only, do not run
            what = dispatch.classify(dispatch.decode_script(cmd.command, cmd.arguments), b"".join(cmd.stdin))
            entry = dict(dispatch.log_entry(what), detail="not run: " + type(what).__name__)
        entry["http_requests"] = cmd.http_requests
        with self.host_lock:
            try:
                self.sim_host.log(entry)
            except Exception:
                log.exception("%s: host.log failed", self.host_name)


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")
    except ValueError:
        return False


def serve(host: t.Any, port: int, username: str, password: str, bind: str = "127.0.0.1") -> WinRMServer:
    """Serve ``host`` (the simulated Windows host) on bind:port (port 0 = any free port).

    Returns the running server; ``server.port`` is the bound port, ``server.stop()`` ends it.
    """
    if not _is_loopback(bind):
        raise ValueError(f"winsim serves on loopback (127.0.0.0/8) only, not {bind!r}")
    return WinRMServer((bind, port), host, username, password).start()


# -- SOAP helpers ----------------------------------------------------------------------------

def _q(prefix: str, name: str) -> str:
    return "{%s}%s" % (NS[prefix], name)


def _envelope(action: str, relates_to: str, body: str) -> bytes:
    ns = " ".join(f'xmlns:{p}="{u}"' for p, u in NS.items() if p != "f")
    return (
        f'<s:Envelope xml:lang="en-US" {ns}>'
        "<s:Header>"
        f"<a:Action>{escape(action)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        f"<a:To>{ANONYMOUS}</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        "</s:Header>"
        f"<s:Body>{body}</s:Body>"
        "</s:Envelope>"
    ).encode("utf-8")


def _fault_envelope(fault: WSManFault, relates_to: str, machine: str) -> bytes:
    body = (
        "<s:Fault>"
        f"<s:Code><s:Value>{fault.code}</s:Value><s:Subcode><s:Value>{fault.subcode}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(fault.reason)}</s:Text></s:Reason>'
        "<s:Detail>"
        f'<f:WSManFault xmlns:f="{NS["f"]}" Code="{fault.wsman_code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(fault.reason)}</f:Message></f:WSManFault>"
        "</s:Detail></s:Fault>"
    )
    return _envelope("http://schemas.dmtf.org/wbem/wsman/1/wsman/fault", relates_to, body)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


# -- HTTP ------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server: WinRMServer
    protocol_version = "HTTP/1.1"  # keep-alive, as requests' session expects
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 600

    def log_message(self, format: str, *args: t.Any) -> None:
        log.debug("%s: %s", self.server.host_name, format % args)

    def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", "application/soap+xml;charset=UTF-8")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _other_method(self) -> None:
        self._read_body()
        with self.server.state_lock:
            self.server.request_count += 1
        self._reply(405, headers={"Allow": "POST"})

    do_GET = do_PUT = do_DELETE = do_HEAD = do_PATCH = _other_method

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _authorized(self) -> bool:
        auth = self.headers.get("Authorization", "")
        scheme, dummy, value = auth.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, dummy, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.server.username and password == self.server.password

    def do_POST(self) -> None:
        srv = self.server
        body = self._read_body()
        with srv.state_lock:
            srv.request_count += 1

        if self.path.split("?", 1)[0].rstrip("/").lower() != "/wsman":
            return self._reply(404)
        if not self._authorized():
            # pywinrm sends Basic credentials with every request; 401 -> InvalidCredentialsError
            return self._reply(401, headers={"WWW-Authenticate": 'Basic realm="WSMAN"'})
        if not self.headers.get("Content-Type", "").lower().startswith("application/soap+xml"):
            return self._reply(415)

        relates_to = ""
        try:
            if len(body) > MAX_REQUEST_ENVELOPE:
                raise WSManFault("The WS-Management service cannot process the request because the request "
                                 "exceeds the maximum envelope size.", FAULT_ENVELOPE_TOO_LARGE, "w:EncodingLimit")
            try:
                root = ET.fromstring(body)
            except ET.ParseError as exc:
                raise WSManFault(f"The request is not valid XML: {exc}", subcode="w:InvalidMessage", status=400)
            header = root.find("s:Header", NS)
            soap_body = root.find("s:Body", NS)
            if root.tag != _q("s", "Envelope") or header is None or soap_body is None:
                raise WSManFault("The request is not a SOAP 1.2 envelope.", subcode="w:InvalidMessage", status=400)
            relates_to = (header.findtext("a:MessageID", "", NS)).strip()
            if not relates_to:
                raise WSManFault("The request has no a:MessageID.", subcode="a:MessageInformationHeaderRequired")
            action_uri = header.findtext("a:Action", "", NS).strip()
            action = ACTIONS.get(action_uri)
            if action is None:
                raise WSManFault(f"The action {action_uri!r} is not supported by the service.",
                                 subcode="a:ActionNotSupported")
            resource = header.findtext("w:ResourceURI", "", NS).strip()
            if resource != RESOURCE_CMD:
                raise WSManFault(f"The WS-Management service cannot process the request. The resource URI "
                                 f"{resource!r} was not found.", subcode="w:DestinationUnreachable")

            if action == "Create":
                response_action, out = self._op_create(header, soap_body)
            else:
                shell = self._shell(header)
                handler = getattr(self, "_op_" + action.lower())
                response_action, out = handler(header, soap_body, shell)
            log.debug("%s: %s -> %s", srv.host_name, action, response_action)
            self._reply(200, _envelope(response_action, relates_to, out))
        except ConnectionLost:
            log.info("%s: connection lost (the address carrying it went away)", srv.host_name)
            self.close_connection = True
            return None
        except WSManFault as fault:
            log.info("%s: fault %s %s", srv.host_name, fault.wsman_code, fault.reason)
            self._reply(fault.status, _fault_envelope(fault, relates_to, srv.host_name))

    # -- operations ----------------------------------------------------------------------

    def _shell(self, header: ET.Element) -> Shell:
        shell_id = ""
        for sel in header.iterfind("w:SelectorSet/w:Selector", NS):
            if sel.get("Name") == "ShellId":
                shell_id = (sel.text or "").strip()
        with self.server.state_lock:
            shell = self.server.shells.get(shell_id.upper())
        if shell is None:
            raise WSManFault(
                f"The request for the Windows Remote Shell with ShellId {shell_id} failed because the shell was "
                "not found on the server. Possible causes are: the specified ShellId is incorrect or the shell no "
                "longer exists on the server. Provide the correct ShellId or create a new shell and retry the "
                "operation.", FAULT_SHELL_NOT_FOUND, "w:InvalidSelectors")
        return shell

    def _find_command(self, shell: Shell, command_id: str | None) -> Command:
        with self.server.state_lock:
            cmd = shell.commands.get((command_id or "").upper())
            if cmd is not None:
                cmd.http_requests += 1
        if cmd is None:
            raise WSManFault(f"The request for the Windows Remote Shell with ShellId {shell.id} failed because "
                             f"the command with CommandId {command_id} was not found.", subcode="w:InvalidSelectors")
        return cmd

    def _op_create(self, header: ET.Element, body: ET.Element) -> tuple[str, str]:
        spec = body.find("rsp:Shell", NS)
        if spec is None:
            raise WSManFault("The Create request has no rsp:Shell element.", subcode="w:InvalidParameter")
        shell = Shell(spec.findtext("rsp:InputStreams", "stdin", NS), spec.findtext("rsp:OutputStreams", "stdout stderr", NS))
        with self.server.state_lock:
            self.server.shells[shell.id] = shell
        host, port = self.server.server_address[:2]
        out = (
            "<x:ResourceCreated>"
            f"<a:Address>http://{host}:{port}/wsman</a:Address>"
            "<a:ReferenceParameters>"
            f"<w:ResourceURI>{RESOURCE_CMD}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters>"
            "</x:ResourceCreated>"
            "<rsp:Shell>"
            f"<rsp:ShellId>{shell.id}</rsp:ShellId>"
            f"<rsp:ResourceUri>{RESOURCE_CMD}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(self.server.username)}</rsp:Owner>"
            f"<rsp:ClientIP>{self.client_address[0]}</rsp:ClientIP>"
            "<rsp:IdleTimeOut>PT7200.000S</rsp:IdleTimeOut>"
            f"<rsp:InputStreams>{escape(shell.input_streams)}</rsp:InputStreams>"
            f"<rsp:OutputStreams>{escape(shell.output_streams)}</rsp:OutputStreams>"
            "<rsp:ShellRunTime>P0DT0H0M0S</rsp:ShellRunTime>"
            "<rsp:ShellInactivity>P0DT0H0M0S</rsp:ShellInactivity>"
            "</rsp:Shell>"
        )
        return TRANSFER + "/CreateResponse", out

    def _op_delete(self, header: ET.Element, body: ET.Element, shell: Shell) -> tuple[str, str]:
        with self.server.state_lock:
            self.server.shells.pop(shell.id, None)
            pending = list(shell.commands.values())
        for cmd in pending:
            self.server.finish_command(cmd)
        return TRANSFER + "/DeleteResponse", ""

    def _op_command(self, header: ET.Element, body: ET.Element, shell: Shell) -> tuple[str, str]:
        line = body.find("rsp:CommandLine", NS)
        if line is None:
            raise WSManFault("The Command request has no rsp:CommandLine element.", subcode="w:InvalidParameter")
        cmd = Command(
            shell,
            command=(line.findtext("rsp:Command", "", NS) or "").strip(),
            arguments=" ".join((a.text or "") for a in line.iterfind("rsp:Arguments", NS)),
        )
        with self.server.state_lock:
            shell.commands[cmd.id] = cmd
        return SHELL + "/CommandResponse", f"<rsp:CommandResponse><rsp:CommandId>{cmd.id}</rsp:CommandId></rsp:CommandResponse>"

    def _op_send(self, header: ET.Element, body: ET.Element, shell: Shell) -> tuple[str, str]:
        streams = body.findall("rsp:Send/rsp:Stream", NS)
        if not streams:
            raise WSManFault("The Send request has no rsp:Stream element.", subcode="w:InvalidParameter")
        seen: set[str] = set()
        for stream in streams:
            command_id = stream.get("CommandId", "").upper()
            cmd = self._lookup_counted(shell, command_id, seen)
            if stream.get("Name", "stdin") != "stdin":
                raise WSManFault(f"The input stream {stream.get('Name')!r} is not valid.", subcode="w:InvalidParameter")
            if cmd.stdin_ended:
                raise WSManFault("The input stream of this command has already been closed.",
                                 subcode="w:InvalidParameter")
            try:
                data = base64.b64decode((stream.text or "").strip(), validate=True)
            except (binascii.Error, ValueError):
                raise WSManFault("The stdin data is not valid base64.", subcode="w:InvalidParameter")
            with self.server.state_lock:
                cmd.stdin.append(data)
                cmd.stdin_started = True
                # End is "true" on the last chunk; Ansible omits the attribute otherwise.
                if stream.get("End", "false").lower() == "true":
                    cmd.stdin_ended = True
        return SHELL + "/SendResponse", "<rsp:SendResponse/>"

    def _op_receive(self, header: ET.Element, body: ET.Element, shell: Shell) -> tuple[str, str]:
        desired = body.find("rsp:Receive/rsp:DesiredStream", NS)
        if desired is None:
            raise WSManFault("The Receive request has no rsp:DesiredStream element.", subcode="w:InvalidParameter")
        cmd = self._find_command(shell, desired.get("CommandId"))

        # stdin still open: a real process would wait for it; answer like WinRM after OperationTimeout
        if cmd.stdin_started and not cmd.stdin_ended and cmd.outcome is None:
            time.sleep(STDIN_WAIT)
            if not cmd.stdin_ended:
                raise WSManFault("The WS-Management service cannot complete the operation within the time "
                                 "specified in OperationTimeout.", FAULT_OPERATION_TIMEOUT, "w:TimedOut",
                                 code="s:Receiver")

        outcome = self.server.run_command(cmd)
        lost = getattr(self.server.sim_host, "take_connection_loss", None)
        if lost is not None and lost():
            raise ConnectionLost()

        # Keep each response under the client's MaxEnvelopeSize (base64 grows by 4/3).
        try:
            max_env = int(header.findtext("w:MaxEnvelopeSize", str(DEFAULT_MAX_ENVELOPE), NS))
        except ValueError:
            max_env = DEFAULT_MAX_ENVELOPE
        budget = max(1024, (max_env - 4096) * 3 // 4)
        with self.server.state_lock:
            out = outcome.stdout[cmd.out_pos:cmd.out_pos + budget]
            cmd.out_pos += len(out)
            err = outcome.stderr[cmd.err_pos:cmd.err_pos + budget - len(out)]
            cmd.err_pos += len(err)
            done = cmd.out_pos >= len(outcome.stdout) and cmd.err_pos >= len(outcome.stderr)

        cid = cmd.id
        parts = ["<rsp:ReceiveResponse>"]
        if out:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}">{_b64(out)}</rsp:Stream>')
        if err:
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}">{_b64(err)}</rsp:Stream>')
        if done:
            parts.append(f'<rsp:Stream Name="stdout" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:Stream Name="stderr" CommandId="{cid}" End="true"></rsp:Stream>')
            parts.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_DONE}">'
                         f"<rsp:ExitCode>{outcome.rc}</rsp:ExitCode></rsp:CommandState>")
        else:
            parts.append(f'<rsp:CommandState CommandId="{cid}" State="{STATE_RUNNING}"/>')
        parts.append("</rsp:ReceiveResponse>")
        return SHELL + "/ReceiveResponse", "".join(parts)

    def _op_signal(self, header: ET.Element, body: ET.Element, shell: Shell) -> tuple[str, str]:
        sig = body.find("rsp:Signal", NS)
        if sig is None:
            raise WSManFault("The Signal request has no rsp:Signal element.", subcode="w:InvalidParameter")
        cmd = self._find_command(shell, sig.get("CommandId"))
        code = (sig.findtext("rsp:Code", "", NS) or "").strip()
        if code == SIGNAL_TERMINATE:
            # pywinrm's cleanup_command: the command is over, report it to the host
            self.server.finish_command(cmd)
        return SHELL + "/SignalResponse", "<rsp:SignalResponse/>"

    def _lookup_counted(self, shell: Shell, command_id: str, seen: set[str]) -> Command:
        """Look a command up for Send; count one HTTP request per command per Send."""
        if command_id in seen:
            with self.server.state_lock:
                cmd = shell.commands.get(command_id)
            if cmd is not None:
                return cmd
        seen.add(command_id)
        return self._find_command(shell, command_id)
