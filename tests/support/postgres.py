"""Real PostgreSQL 15 servers in network namespaces, and ledger clients beside them.

Layout (like tests/support/etcdlib.py): a switch namespace with bridge ``br0``; each server in its
own namespace at 10.78.0.1, .2, ... (port 5432), each client namespace at 10.78.0.101...,
joined to the bridge by veth pairs (switch side ``pN``). Nothing touches the host's network.

Each server is a private cluster: ``initdb`` into a temporary directory owned by the
unprivileged ``postgres`` user (Debian's package makes it), run as that user with setpriv.
The test process reaches it as the superuser through its Unix socket (a path: it needs no
network namespace); ledger clients reach it over TCP from their namespaces, with
scram-sha-256 passwords, and TLS (ssl=on with a certificate for the server's IP).

``lab(tmp)`` is a context manager that always stops every server, removes every
namespace and every data directory, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tests.support import passwords
from tests.support.etcdlib import Tls
from tests.support.netnslib import Netns, NetnsFactory, require, require_root_netns, run, veth

SUBNET = "10.78.0"
PORT = 5432
BIN = Path("/usr/lib/postgresql/15/bin")
BOUNCER = shutil.which("pgbouncer", path=f"{os.environ.get('PATH', '')}:/usr/sbin") or "pgbouncer"
AGENT = str(Path(__file__).with_name("postgres_agent.py"))
SRC = str(Path(__file__).resolve().parents[2] / "src")
#: The superuser's password and the ledger role's (test-only clusters).
SUPER_PASSWORD = "super-secret-pw"
PASSWORD = "ledger-secret-pw"
USER = "ifm"


def require_postgres() -> None:
    require_root_netns()
    require(
        (BIN / "postgres").exists(), f"{BIN}/postgres is missing (apt-get install postgresql-15)"
    )
    require(shutil.which("openssl") is not None, "openssl is not installed")
    require(shutil.which("setpriv") is not None, "setpriv is not installed (util-linux)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        require(False, "psycopg is not installed (pip install '.[test]')")


def _owner() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return pwd.getpwnam("nobody")


def as_owner(argv: Sequence[str]) -> list[str]:
    """``argv`` run as the unprivileged server owner (setpriv execs: the PID is the server's)."""
    o = _owner()
    return ["setpriv", f"--reuid={o.pw_uid}", f"--regid={o.pw_gid}", "--init-groups", "--",
            *argv]  # fmt: skip


class Server:
    """One PostgreSQL cluster: its namespace, address, data directory and postmaster."""

    def __init__(self, lab: Lab, index: int, *, standby_of: Server | None = None) -> None:
        self.lab = lab
        self.index = index
        self.name = f"pg{index}"
        self.ip = f"{SUBNET}.{index}"
        self.ns = lab.factory("ifmpg")
        lab.wire(self.ns, index, self.ip)
        self.base = Path(tempfile.mkdtemp(prefix=f"ifm-{self.name}-", dir="/tmp"))
        lab.dirs.append(self.base)
        o = _owner()
        os.chown(self.base, o.pw_uid, o.pw_gid)
        self.data = self.base / "data"
        self.sock = str(self.base)
        self.log = self.base / "log"
        self.proc: subprocess.Popen[str] | None = None
        self.settings: dict[str, str] = {}
        if lab.tls is not None:  # the server's TLS files, readable by its owner only
            for src, dst in ((lab.tls.server, "server.crt"), (lab.tls.server_key, "server.key")):
                shutil.copy(src, self.base / dst)
                os.chown(self.base / dst, o.pw_uid, o.pw_gid)
                os.chmod(self.base / dst, 0o600)
        if standby_of is None:
            self._initdb()
        else:
            self._basebackup(standby_of)

    def _initdb(self) -> None:
        pwfile = self.base / "pw"
        pwfile.write_text(SUPER_PASSWORD + "\n")
        o = _owner()
        os.chown(pwfile, o.pw_uid, o.pw_gid)
        argv = [str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-N",
                "--auth-local=trust", "--auth-host=scram-sha-256",
                f"--pwfile={pwfile}"]  # fmt: skip
        run(as_owner(argv))
        hba = self.data / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            "host all all 10.0.0.0/8 scram-sha-256\n"
            "host replication all 10.0.0.0/8 scram-sha-256\n"
        )

    def _basebackup(self, primary: Server) -> None:
        env = {**os.environ, "PGPASSWORD": SUPER_PASSWORD}
        self.ns.run(as_owner([str(BIN / "pg_basebackup"), "-h", primary.ip, "-U", "postgres",
                              "-D", str(self.data), "-R", "-X", "stream", "--checkpoint=fast",
                              "-d", f"application_name={self.name}"]),
                    check=True, env=env, timeout=60)  # fmt: skip
        # Who the standby is for synchronous_standby_names: its application_name.
        with open(self.data / "postgresql.auto.conf", "a") as f:
            f.write(
                f"primary_conninfo = 'host={primary.ip} port={PORT} user=postgres"
                f" password={SUPER_PASSWORD} application_name={self.name}'\n"
            )

    def argv(self) -> list[str]:
        settings = {
            "listen_addresses": self.ip, "port": str(PORT), "unix_socket_directories": self.sock,
            "fsync": "off", "shared_buffers": "16MB", "max_connections": "40",
            "logging_collector": "off", "wal_sender_timeout": "5s", "wal_receiver_timeout": "5s",
            **self.settings,
        }  # fmt: skip
        if self.lab.tls is not None:
            settings |= {"ssl": "on", "ssl_cert_file": f"{self.base}/server.crt",
                         "ssl_key_file": f"{self.base}/server.key"}  # fmt: skip
        out = [str(BIN / "postgres"), "-D", str(self.data)]
        for k, v in settings.items():
            out += ["-c", f"{k}={v}"]
        return as_owner(out)

    def start(self, timeout: float = 30.0) -> None:
        with open(self.log, "a") as log:
            self.proc = self.ns.popen(self.argv(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = run([str(BIN / "pg_isready"), "-h", self.sock, "-p", str(PORT), "-U", "postgres"],
                    check=False)  # fmt: skip
            if r.returncode == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Immediate shutdown (SIGQUIT: a crash for the clients), reaped."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.proc = None

    def connect(self, dbname: str = "postgres") -> Any:
        """A superuser connection through the Unix socket (autocommit)."""
        import psycopg

        return psycopg.connect(host=self.sock, port=PORT, user="postgres", dbname=dbname,
                               autocommit=True, connect_timeout=10)  # fmt: skip

    def sql(self, query: str, *args: Any, dbname: str = "postgres") -> list[tuple[Any, ...]]:
        with self.connect(dbname) as conn:
            cur = conn.execute(query, args or None)
            return list(cur.fetchall()) if cur.description else []

    def isolate(self, cut: bool = True) -> None:
        """Pull (or put back) this server's cable at the switch."""
        self.lab.switch.ip("link", "set", f"p{self.index}", "down" if cut else "up")

    def url(self, dbname: str = "postgres", user: str = USER, **params: str) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}@{self.ip}:{PORT}/{dbname}" + (f"?{query}" if query else "")

    def bouncer(self, port: int = 6432) -> str:
        """pgbouncer in transaction pooling in front of this server (same namespace, two
        server connections for every client); the ledger URL through it."""
        o = _owner()
        users = self.base / "userlist.txt"
        users.write_text(f'"{USER}" "{PASSWORD}"\n')
        conf = self.base / "pgbouncer.ini"
        conf.write_text(
            f"[databases]\npostgres = host={self.ip} port={PORT} dbname=postgres\n"
            f"[pgbouncer]\nlisten_addr = {self.ip}\nlisten_port = {port}\n"
            f"unix_socket_dir =\nauth_type = scram-sha-256\nauth_file = {users}\n"
            "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\n"
            f"logfile = {self.base}/pgbouncer.log\n"
        )
        for f in (users, conf):
            os.chown(f, o.pw_uid, o.pw_gid)
            os.chmod(f, 0o600)
        proc = self.ns.popen(as_owner([BOUNCER, str(conf)]), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)  # fmt: skip
        for _ in range(100):
            if self.ns.run(["bash", "-c", f"exec 3<>/dev/tcp/{self.ip}/{port}"]).returncode == 0:
                return f"postgresql://{USER}@{self.ip}:{port}/postgres"
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        log = (self.base / "pgbouncer.log").read_text()[-2000:]
        raise AssertionError(f"pgbouncer did not start: {log}")

    def wait_streaming(self, standby: Server, timeout: float = 30.0) -> None:
        """Until ``standby`` streams from this server (and is sync when named so)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.sql("SELECT state FROM pg_stat_replication WHERE application_name = %s",
                            standby.name)  # fmt: skip
            if rows and rows[0][0] == "streaming":
                return
            time.sleep(0.1)
        raise AssertionError(f"{standby.name} is not streaming: {standby.log.read_text()[-2000:]}")


class Lab:
    """Servers and client namespaces on one bridge, TLS files, the ledger role."""

    def __init__(self, factory: NetnsFactory, tmp: Path) -> None:
        self.factory = factory
        self.tmp = tmp
        self.dirs: list[Path] = []
        self.switch = factory("ifmpsw")
        self.switch.ip("link", "add", "br0", "type", "bridge")
        self.switch.ip("link", "set", "br0", "up")
        self.servers: list[Server] = []
        self.clients: list[Netns] = []
        self.agents: list[Agent] = []
        self.tls: Tls | None = Tls(tmp / "tls", [f"{SUBNET}.{i}" for i in range(1, 10)])

    def wire(self, ns: Netns, index: int, ip: str) -> None:
        veth(ns, "eth0", self.switch, f"p{index}")
        self.switch.ip("link", "set", f"p{index}", "master", "br0")
        ns.ip("addr", "add", f"{ip}/24", "dev", "eth0")

    def server(self, *, standby_of: Server | None = None, **settings: str) -> Server:
        s = Server(self, len(self.servers) + 1, standby_of=standby_of)
        s.settings.update(settings)
        self.servers.append(s)
        s.start()
        if standby_of is None:
            s.sql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
            s.sql(f"GRANT CREATE ON SCHEMA public TO {USER}")
        return s

    def client(self) -> Netns:
        index = 101 + len(self.clients)
        ns = self.factory("ifmpc")
        self.wire(ns, index, f"{SUBNET}.{index}")
        self.clients.append(ns)
        return ns

    def agent(self, ns: Netns | None = None) -> Agent:
        a = Agent(ns or self.client())
        self.agents.append(a)
        return a

    def close(self) -> None:
        for a in self.agents:
            with contextlib.suppress(Exception):
                a.close()
        for s in self.servers:
            with contextlib.suppress(Exception):
                s.stop()


class Agent:
    """A Python process in a client namespace running ledger calls (postgres_agent.py)."""

    def __init__(self, ns: Netns) -> None:
        self.ns = ns
        env = {**os.environ, "PYTHONPATH": SRC, "HOME": "/nonexistent"}
        env.pop("PGPASSFILE", None)
        self.proc = ns.popen([sys.executable, AGENT], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, env=env)  # fmt: skip
        assert self.call({"op": "ping"}) == {"ok": True}

    def send(self, request: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()

    def receive(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, f"agent in {self.ns.name} died: {self.proc.poll()}"
        passwords.check(line, f"the agent's reply in {self.ns.name}")
        return json.loads(line)  # type: ignore[no-any-return]

    def call(self, request: dict[str, Any]) -> dict[str, Any]:
        self.send(request)
        return self.receive()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout):
            if f is not None:
                with contextlib.suppress(OSError):
                    f.close()


@contextlib.contextmanager
def lab(tmp: Path) -> Iterator[Lab]:
    """A lab with no server yet (``lab.server()`` starts one); all gone afterwards."""
    require_postgres()
    factory = NetnsFactory()
    made = None
    try:
        made = Lab(factory, tmp)
        yield made
    finally:
        if made is not None:
            made.close()
        factory.close()
        for d in made.dirs if made is not None else []:
            shutil.rmtree(d, ignore_errors=True)
