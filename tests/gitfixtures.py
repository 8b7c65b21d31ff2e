"""Real Git for tests: upstream repositories built with pygit2, served in three ways.

By `git daemon`, by a smart-HTTP server with basic auth (`git http-backend` behind aiohttp), or not at
all (a socket that accepts and never answers).

Imported by tests as ``import gitfixtures`` (tests/ is on sys.path via its conftest).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path

import pygit2
import pytest
from aiohttp import web

SIG = pygit2.Signature("Alice", "alice@example.org", 1_700_000_000, 0)


class Upstream:
    """A bare repository whose branches are written file-set by file-set."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.init_repository(str(path), bare=True, initial_head="main")
        self._files: dict[str, dict[str, bytes]] = {}
        self._clock = 0

    @property
    def url(self) -> str:
        """The upstream as a file:// URL."""
        return f"file://{self.path}"

    def commit(
        self,
        changes: Mapping[str, str | bytes | None],
        *,
        message: str = "change",
        branch: str = "main",
        parents: list[str] | None = None,
        base: str | None = None,
    ) -> str:
        """Commit ``changes`` (path -> content, None deletes) on top of ``branch``.

        ``base`` starts from another branch's files (for forks); ``parents`` overrides
        the parent list (for force-pushes and merges).
        """
        files = dict(self._files.get(base or branch, {}))
        for path, content in changes.items():
            if content is None:
                files.pop(path, None)
            else:
                files[path] = content.encode() if isinstance(content, str) else content
        self._files[branch] = files
        tree = self._tree(files)
        ref = f"refs/heads/{branch}"
        if parents is None:
            parents = [str(self.repo.references[ref].target)] if ref in self.repo.references else []
        self._clock += 60
        sig = pygit2.Signature(SIG.name, SIG.email, SIG.time + self._clock, 0)
        oid = self.repo.create_commit(
            None, sig, sig, message, tree, [pygit2.Oid(hex=p) for p in parents]
        )
        self.repo.references.create(ref, oid, force=True)
        return str(oid)

    def set_branch(self, branch: str, sha: str) -> None:
        """Point ``branch`` at ``sha`` (a force-push), remembering that commit's files."""
        self.repo.references.create(f"refs/heads/{branch}", pygit2.Oid(hex=sha), force=True)
        commit = self.repo[sha]
        assert isinstance(commit, pygit2.Commit)
        self._files[branch] = self._flatten(commit.tree, "")

    def tag(self, name: str, sha: str, *, annotated: bool = False) -> None:
        """Create or move tag ``name`` to ``sha``."""
        ref = f"refs/tags/{name}"
        if ref in self.repo.references:
            self.repo.references.delete(ref)
        if annotated:
            self.repo.create_tag(
                name, pygit2.Oid(hex=sha), pygit2.enums.ObjectType.COMMIT, SIG, f"release {name}"
            )
        else:
            self.repo.references.create(ref, pygit2.Oid(hex=sha))

    def delete_tag(self, name: str) -> None:
        """Remove tag ``name``."""
        self.repo.references.delete(f"refs/tags/{name}")

    def _tree(self, files: Mapping[str, bytes]) -> pygit2.Oid:
        nested: dict[str, object] = {}
        for path, content in files.items():
            parts = path.split("/")
            node = nested
            for part in parts[:-1]:
                node = node.setdefault(part, {})  # type: ignore[assignment]
            node[parts[-1]] = content
        return self._build(nested)

    def _build(self, node: Mapping[str, object]) -> pygit2.Oid:
        builder = self.repo.TreeBuilder()
        for name, value in sorted(node.items()):
            if isinstance(value, bytes):
                builder.insert(name, self.repo.create_blob(value), pygit2.enums.FileMode.BLOB)
            else:
                builder.insert(name, self._build(value), pygit2.enums.FileMode.TREE)  # type: ignore[arg-type]
        return builder.write()

    def _flatten(self, tree: pygit2.Tree, prefix: str) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        for entry in tree:
            path = f"{prefix}{entry.name}"
            obj = self.repo[entry.id]
            if isinstance(obj, pygit2.Tree):
                out.update(self._flatten(obj, f"{path}/"))
            elif isinstance(obj, pygit2.Blob):
                out[path] = bytes(obj.data)
        return out


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, *, timeout: float = 10.0) -> None:
    """Block until something accepts connections on ``port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class GitDaemon:
    """`git daemon` serving every repository under ``base`` on a loopback port."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                "git",
                "daemon",
                "--reuseaddr",
                f"--base-path={base}",
                "--export-all",
                "--listen=127.0.0.1",
                f"--port={self.port}",
                "--max-connections=0",
                str(base),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.port)

    def url(self, name: str) -> str:
        """The git:// URL of repository ``name``."""
        return f"git://127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        """Stop the daemon."""
        self.proc.terminate()
        self.proc.wait(timeout=10)


class BlackHole:
    """A TCP server that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.sock.accept()
                self.accepted.append(conn)

    def close(self) -> None:
        """Stop accepting and drop every connection."""
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def upstream(tmp_path: Path) -> Upstream:
    """An empty upstream repository at tmp/upstream/repo.git."""
    return Upstream(tmp_path / "upstream" / "repo.git")


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    """`git daemon` on loopback serving tmp/upstream."""
    base = tmp_path / "upstream"
    base.mkdir(exist_ok=True)
    daemon = GitDaemon(base)
    yield daemon
    daemon.stop()


@pytest.fixture
def black_hole() -> Iterator[BlackHole]:
    """A loopback port that accepts and never answers."""
    hole = BlackHole()
    yield hole
    hole.close()


async def _cgi(request: web.Request, *, root: Path, user: str, password: str) -> web.StreamResponse:
    expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    if request.headers.get("Authorization") != expected:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="git"'})
    body = await request.read()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "GIT_PROJECT_ROOT": str(root),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": request.path,
        "QUERY_STRING": request.query_string,
        "REQUEST_METHOD": request.method,
        "CONTENT_TYPE": request.headers.get("Content-Type", ""),
        "CONTENT_LENGTH": str(len(body)),
        "REMOTE_USER": user,
        "REMOTE_ADDR": "127.0.0.1",
    }
    if "Content-Encoding" in request.headers:
        env["HTTP_CONTENT_ENCODING"] = request.headers["Content-Encoding"]
    if "Git-Protocol" in request.headers:
        env["GIT_PROTOCOL"] = request.headers["Git-Protocol"]
    git = shutil.which("git") or "git"
    proc = await asyncio.create_subprocess_exec(
        git,
        "http-backend",
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out, _ = await proc.communicate(body)
    head, _, payload = out.partition(b"\r\n\r\n")
    status = 200
    headers: dict[str, str] = {}
    for line in head.decode().split("\r\n"):
        name, _, value = line.partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        elif name:
            headers[name] = value.strip()
    return web.Response(status=status, body=payload, headers=headers)


class HttpGit:
    """Smart HTTP (git http-backend) behind basic auth on loopback."""

    def __init__(self, runner: web.AppRunner, port: int) -> None:
        self.runner = runner
        self.port = port

    def url(self, name: str) -> str:
        """The http:// URL of repository ``name``."""
        return f"http://127.0.0.1:{self.port}/{name}"

    def https_url(self, name: str) -> str:
        """The https:// URL of repository ``name`` (when served with TLS)."""
        return f"https://127.0.0.1:{self.port}/{name}"


@contextlib.asynccontextmanager
async def http_git(
    root: Path, *, user: str, password: str, tls: ssl.SSLContext | None = None
) -> AsyncIterator[HttpGit]:
    """Serve ``root`` over smart HTTP (HTTPS with ``tls``), accepting only ``user``:``password``."""
    app = web.Application()

    async def handle(request: web.Request) -> web.StreamResponse:
        return await _cgi(request, root=root, user=user, password=password)

    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield HttpGit(runner, port)
    finally:
        await runner.cleanup()


class SshGit:
    """An SSH server (asyncssh) that runs `git upload-pack` for authorized keys."""

    def __init__(self, port: int, known_hosts_line: str, client_key: Path, other_key: Path) -> None:
        self.port = port
        self.known_hosts_line = known_hosts_line
        self.client_key = client_key
        self.other_key = other_key

    def url(self, name: str) -> str:
        """The ssh:// URL of repository ``name``."""
        return f"ssh://git@127.0.0.1:{self.port}/{name}"


@contextlib.asynccontextmanager
async def ssh_git(root: Path, keys: Path) -> AsyncIterator[SshGit]:
    """Serve the repositories under ``root`` over SSH on loopback; key files go to ``keys``."""
    import asyncssh  # noqa: PLC0415 - only the SSH tests need it

    keys.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test fixture, tiny files
    # ed25519: with RSA keys the libssh2 inside pygit2's wheel corrupts its heap on the
    # second SSH session in a process (seen with pygit2 1.21 / libgit2 1.9.7).
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client = asyncssh.generate_private_key("ssh-ed25519")
    other = asyncssh.generate_private_key("ssh-ed25519")
    for name, key in (("client", client), ("other", other)):
        (keys / name).write_bytes(key.export_private_key("openssh"))
        (keys / name).chmod(0o600)
        (keys / f"{name}.pub").write_bytes(key.export_public_key("openssh"))

    async def upload_pack(process: asyncssh.SSHServerProcess[bytes]) -> None:
        command = process.command or ""
        verb, _, arg = command.partition(" ")
        path = root / arg.strip("'\"").lstrip("/")
        if verb != "git-upload-pack" or not path.is_dir():
            process.exit(128)
            return
        proc = await asyncio.create_subprocess_exec(
            "git",
            "upload-pack",
            str(path),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert proc.stdin is not None
        assert proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        async def pump_in() -> None:
            with contextlib.suppress(Exception):
                while data := await process.stdin.read(65536):
                    stdin.write(data)
                    await stdin.drain()
                stdin.close()

        feeding = asyncio.create_task(pump_in())
        while data := await stdout.read(65536):
            process.stdout.write(data)
            await process.stdout.drain()
        code = await proc.wait()
        feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feeding
        process.exit(code)

    server = await asyncssh.create_server(
        asyncssh.SSHServer,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client.export_public_key("openssh").decode()
        ),
        process_factory=upload_pack,
        encoding=None,
    )
    port = server.sockets[0].getsockname()[1]
    line = f"[127.0.0.1]:{port} {host_key.export_public_key('openssh').decode().strip()}"
    try:
        yield SshGit(port, line, keys / "client", keys / "other")
    finally:
        server.close()
        await server.wait_closed()


def make_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A private CA and a server certificate for 127.0.0.1: the server context and the CA file."""
    import datetime as dt  # noqa: PLC0415
    import ipaddress  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415 - only the TLS tests need it
    from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitopsd test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file = directory / "ca.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / "server.pem", directory / "server.key")
    return context, ca_file
