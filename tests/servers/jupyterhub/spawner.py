"""The local spawner of the test and demo hub: servers run as the hub's own OS user, start fast (the port
is polled instead of the hub's backing-off readiness check), fail fast when the process dies at start,
and take `user_options.profile`, including profiles that fail on purpose."""
import asyncio
import itertools
import socket

from jupyterhub.spawner import SimpleLocalProcessSpawner
from tornado import web

PROFILES = {
    "small": {"mem_limit": "2G", "cpu_limit": 1.0},
    "medium": {"mem_limit": "4G", "cpu_limit": 2.0},
    "large": {"mem_limit": "8G", "cpu_limit": 4.0},
}
# Profiles that fail on purpose, so that the portal's failure paths meet a real hub.
FAULT_COMMANDS = {
    "exits": ["/bin/sh", "-c", "echo 'esap fault profile: exiting at start' >&2; exit 3", "exits"],
    "hangs": ["/bin/sh", "-c", "exec sleep 3600", "hangs"],
}


def apply_user_options(spawner: "FastLocalSpawner", user_options: dict) -> None:
    profile = (user_options or {}).get("profile") or "small"
    if profile in FAULT_COMMANDS:
        spawner.cmd = FAULT_COMMANDS[profile]
    elif profile in PROFILES:
        spawner.mem_limit = PROFILES[profile]["mem_limit"]
        spawner.cpu_limit = PROFILES[profile]["cpu_limit"]
    else:
        raise web.HTTPError(400, f"Unknown profile {profile!r}")
    spawner.environment = {**spawner.environment, "ESAP_PROFILE": profile}


def options_from_form(formdata: dict) -> dict:
    """The browser spawn page's form, unpacked to the same user_options the REST API sends."""
    return {"profile": (formdata.get("profile") or ["small"])[0]}


OPTIONS_FORM = (
    '<label for="profile">Server profile</label> <select name="profile" id="profile">'
    + "".join(f'<option value="{name}">{name}</option>' for name in [*PROFILES, *FAULT_COMMANDS])
    + "</select>"
)


class FastLocalSpawner(SimpleLocalProcessSpawner):
    port_range: tuple[int, int] = (0, 0)
    _ports = None

    async def start(self):
        self.port = self._free_port()
        ip, port = await super().start()
        await self._wait_until_listening(ip or "127.0.0.1", port)
        return ip, port

    def _free_port(self) -> int:
        low, high = self.port_range
        cls = type(self)
        if cls._ports is None:
            cls._ports = itertools.cycle(range(low, high))
        for _ in range(high - low):
            port = next(cls._ports)
            with socket.socket() as probe:
                try:
                    probe.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise web.HTTPError(503, f"No free port left in {low}-{high} for a single-user server")

    async def _wait_until_listening(self, ip: str, port: int) -> None:
        deadline = asyncio.get_running_loop().time() + self.http_timeout
        while asyncio.get_running_loop().time() < deadline:
            status = self.proc.poll() if self.proc else None
            if status is not None:
                raise web.HTTPError(
                    500, f"single-user server for {self.user.name}:{self.name} exited with status "
                         f"{status} during startup")
            try:
                _, writer = await asyncio.open_connection(ip, port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return
        await self.stop(now=True)
        raise web.HTTPError(500, f"Server at {ip}:{port} didn't respond in {self.http_timeout} seconds")
