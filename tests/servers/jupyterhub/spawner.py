"""The local spawner of the test and demo hub: servers run as the hub's own OS user, start fast (the port
is polled instead of the hub's backing-off readiness check), fail fast when the process dies at start,
and take `user_options.profile`, including profiles that fail on purpose.

Loaded by jupyterhub_config.py inside the hub's own virtual environment (it imports JupyterHub)."""
import asyncio
import itertools
import socket
from collections.abc import Iterator

from jupyterhub.spawner import SimpleLocalProcessSpawner
from tornado import web
from traitlets import Integer, List, Tuple, Unicode, default

# mem_limit/cpu_limit are not enforced by a local spawner; they reach the server as MEM_LIMIT/CPU_LIMIT.
PROFILES = {
    "small": {"mem_limit": "2G", "cpu_limit": 1.0},
    "medium": {"mem_limit": "4G", "cpu_limit": 2.0},
    "large": {"mem_limit": "8G", "cpu_limit": 4.0},
}
# Profiles that fail on purpose, so that failure paths meet a real hub. The spawner appends its
# arguments, which `sh -c` takes as $0, $1, ... and ignores.
FAULT_COMMANDS = {
    "exits": ["/bin/sh", "-c", "echo 'esap fault profile: exiting at start' >&2; exit 3"],
    "hangs": ["/bin/sh", "-c", "exec sleep 3600"],
}
DEFAULT_PROFILE = "small"


def apply_user_options(spawner: "FastLocalSpawner", user_options: dict) -> None:
    """`{"profile": slug}` onto the spawner. An HTTPError here is the API caller's 400, verbatim."""
    profile = (user_options or {}).get("profile") or DEFAULT_PROFILE
    if profile not in PROFILES and profile not in FAULT_COMMANDS:
        raise web.HTTPError(400, f"Unknown profile {profile!r}")
    # Spawner objects can outlive a spawn: set every attribute a profile touches, every time.
    spawner.cmd = FAULT_COMMANDS.get(profile) or list(spawner.server_cmd)
    limits = PROFILES.get(profile, PROFILES[DEFAULT_PROFILE])
    spawner.mem_limit, spawner.cpu_limit = limits["mem_limit"], limits["cpu_limit"]
    spawner.environment = {**spawner.environment, "PROFILE": profile}


def options_from_form(formdata: dict[str, list[str]]) -> dict:
    """The browser spawn page's form as the same user_options the REST API sends (no `_xsrf`)."""
    return {"profile": (formdata.get("profile") or [DEFAULT_PROFILE])[0]}


OPTIONS_FORM = (
    '<label for="profile">Server profile</label> <select name="profile" id="profile">'
    + "".join(f'<option value="{name}">{name}</option>' for name in [*PROFILES, *FAULT_COMMANDS])
    + "</select>"
)

_port_cycles: dict[tuple[int, int], Iterator[int]] = {}


class FastLocalSpawner(SimpleLocalProcessSpawner):
    port_range = Tuple(Integer(), Integer(), default_value=(0, 0), config=True,
                       help="[low, high) ports for single-user servers; (0, 0) lets the OS choose")
    server_cmd = List(Unicode(), config=True,
                      help="The single-user server command for normal profiles (default: Spawner.cmd)")

    @default("server_cmd")
    def _configured_cmd(self) -> list[str]:
        return list(self.cmd)  # read before apply_user_options first replaces cmd

    async def start(self) -> tuple[str, int]:
        if self.port_range != (0, 0):
            self.port = self._free_port()
        ip, port = await super().start()
        await self._wait_until_listening(ip or "127.0.0.1", port)
        return ip, port

    def _free_port(self) -> int:
        """Round-robin over the block, so a port just released is not reused at once."""
        low, high = self.port_range
        ports = _port_cycles.setdefault((low, high), itertools.cycle(range(low, high)))
        for port in itertools.islice(ports, high - low):
            if _bindable(port):
                return port
        raise web.HTTPError(503, f"No free port left in {low}-{high - 1} for a single-user server")

    async def _wait_until_listening(self, ip: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.http_timeout
        while loop.time() < deadline:
            status = self.proc.poll() if self.proc else None
            if status is not None:
                raise web.HTTPError(
                    500, f"single-user server for {self.user.name}:{self.name} exited with status "
                         f"{status} during startup")
            if await _accepts(ip, port):
                return
            await asyncio.sleep(0.05)
        await self.stop(now=True)
        raise web.HTTPError(500, f"Server at {ip}:{port} didn't respond in {self.http_timeout} seconds")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


async def _accepts(ip: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(ip, port)
    except OSError:
        return False
    writer.close()
    return True
