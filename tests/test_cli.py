"""The command line as a user runs it: exit codes, output, embedded database lifecycle."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import clitools
import orjson

from daemon.core import events as ev
from daemon.shell import embeddedpg, eventstore


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return clitools.gitopsd(*args, cwd=cwd, env=env)


def postgres_running_in(pgdata: Path) -> bool:
    return bool(clitools.postgres_processes_in(pgdata))


def test_config_check_ok_and_errors(tmp_path: Path) -> None:
    """`config check` prints ok, or every problem as FILE:LINE and exits 2."""
    good = tmp_path / "good.yaml"
    good.write_text("http: {listen: '127.0.0.1:9000'}\n")
    result = run("config", "check", str(good), cwd=tmp_path)
    assert (result.returncode, result.stdout) == (0, "ok\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("http:\n  listen: 1\n  port: 2\nstate_dir: [x]\n")
    result = run("config", "check", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}:2: http.listen: expected a string, got an integer (quote it)",
        f"{bad}:3: http.port: unknown key (known keys: listen)",
        f"{bad}:4: state_dir: expected a string, got a list",
    ]


def test_config_from_env_and_missing_explicit_file(tmp_path: Path) -> None:
    """$GITOPSD_CONFIG is used when --config is absent; a missing explicit file exits 2."""
    result = run("config", "check", cwd=tmp_path, env={"GITOPSD_CONFIG": str(tmp_path / "no.yaml")})
    assert result.returncode == 2
    assert result.stderr.startswith(f"{tmp_path / 'no.yaml'}: cannot read: No such file")


def test_migrate_with_no_database_configured(pg_tmp_path: Path) -> None:
    """With no URL, migrate runs the embedded server in state_dir/pg and stops it."""
    (pg_tmp_path / "gitopsd.yaml").write_text(f"state_dir: {pg_tmp_path / 'state'}\n")
    first = run("migrate", cwd=pg_tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "applied 001_event_log"
    again = run("migrate", cwd=pg_tmp_path)
    assert (again.returncode, again.stdout) == (0, "schema is up to date\n")
    assert not postgres_running_in((pg_tmp_path / "state" / "pg").resolve())


def test_db_url_is_refused_while_nothing_holds_the_server(pg_tmp_path: Path) -> None:
    """`db url` with no gitopsd process running prints no URL (it would not work) and says why."""
    (pg_tmp_path / "gitopsd.yaml").write_text(f"state_dir: {pg_tmp_path / 'state'}\n")
    assert run("migrate", cwd=pg_tmp_path).returncode == 0
    result = run("db", "url", cwd=pg_tmp_path)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "error: the embedded PostgreSQL is not running (no gitopsd process holds it), so it has"
        " no URL to use: run `gitopsd db psql` (it starts the server for the session), or start"
        " `gitopsd run` and ask again\n"
    )
    assert not postgres_running_in((pg_tmp_path / "state" / "pg").resolve())


def test_db_url_then_psql_while_the_daemon_runs(pg_tmp_path: Path) -> None:
    """While `gitopsd run` holds the server, `db url` prints a URL that psql can use."""
    daemon = clitools.start_daemon_on_embedded_pg(pg_tmp_path)
    try:
        url = run("db", "url", cwd=pg_tmp_path)
        assert (url.returncode, url.stderr) == (0, "")
        psql = subprocess.run(
            [
                str(embeddedpg.bin_path() / "psql"),
                url.stdout.strip(),
                "-AtXc",
                "SELECT count(*) > -1 FROM events",
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert (psql.returncode, psql.stdout, psql.stderr) == (0, "t\n", "")
    finally:
        daemon.terminate()
        daemon.communicate(timeout=60)
    assert daemon.returncode == 0
    assert not postgres_running_in((pg_tmp_path / "state" / "pg").resolve())


def test_db_url_prints_a_configured_url(tmp_path: Path) -> None:
    """With GITOPSD_DATABASE_URL, `db url` prints it and starts nothing."""
    url = "postgresql://gitopsd@db.invalid:5432/gitopsd"
    (tmp_path / "gitopsd.yaml").write_text("")  # no database.url: the environment's
    result = run("db", "url", cwd=tmp_path, env={"GITOPSD_DATABASE_URL": url})
    assert (result.returncode, result.stdout) == (0, url + "\n")


def test_two_processes_starting_at_once_share_one_server(pg_tmp_path: Path) -> None:
    """Two gitopsd processes starting together both succeed on one embedded server."""
    (pg_tmp_path / "gitopsd.yaml").write_text(f"state_dir: {pg_tmp_path / 'state'}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITOPSD_")}
    procs = [
        subprocess.Popen(
            [*clitools.GITOPSD, "migrate"],
            cwd=pg_tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    stdout = sorted(o[0] for o in outputs)
    assert stdout[0].startswith("applied 001_event_log\n")
    assert stdout[1] == "schema is up to date\n"
    assert not postgres_running_in((pg_tmp_path / "state" / "pg").resolve())


def test_db_psql_runs_a_query(pg_tmp_path: Path) -> None:
    """`db psql -c` reaches the event log's database."""
    (pg_tmp_path / "gitopsd.yaml").write_text(f"state_dir: {pg_tmp_path / 'state'}\n")
    assert run("migrate", cwd=pg_tmp_path).returncode == 0
    result = run("db", "psql", "-A", "-t", "-c", "SELECT count(*) FROM events", cwd=pg_tmp_path)
    assert (result.returncode, result.stdout) == (0, "0\n")


NEEDS_CONFIG = [
    ["status"],
    ["history", "web"],
    ["sync", "web"],
    ["rollback", "web", "--to", "abc"],
    ["rollback", "web", "abc", "--cluster", "prod"],
    ["unpin", "web"],
    ["suspend", "web"],
    ["resume", "web", "--cluster", "prod"],
    ["verify"],
    ["run"],
    ["sources", "poll"],
    ["render", "web"],
    ["migrate"],
    ["db", "url"],
    ["db", "psql"],
    ["config", "check"],
]


def test_commands_without_a_config_say_where_they_looked_and_create_nothing(
    tmp_path: Path,
) -> None:
    """With no --config, no $GITOPSD_CONFIG and no ./gitopsd.yaml every command exits 2 untouched."""
    looked = (
        f"error: no configuration file: no --config, $GITOPSD_CONFIG is not set, and "
        f"{tmp_path / 'gitopsd.yaml'} does not exist; pass --config FILE, set $GITOPSD_CONFIG, "
        "or create gitopsd.yaml (an empty file means every default: an embedded database "
        "in .gitopsd)\n"
    )
    results = [run(*args, cwd=tmp_path) for args in NEEDS_CONFIG]
    assert [(r.returncode, r.stdout, r.stderr) for r in results] == [(2, "", looked)] * len(
        NEEDS_CONFIG
    )
    assert list(tmp_path.iterdir()) == []


def test_unreadable_configs_exit_2_without_a_traceback(tmp_path: Path) -> None:
    """/dev/zero, a directory ($GITOPSD_CONFIG) and a non-UTF-8 file each get one line, exit 2."""
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"# caf\xe9\n")
    results = [
        run("--config", "/dev/zero", "status", cwd=tmp_path),
        run("status", cwd=tmp_path, env={"GITOPSD_CONFIG": str(tmp_path)}),
        run("--config", str(latin1), "status", cwd=tmp_path),
    ]
    why = "byte 0xe9 at offset 5 (invalid continuation byte)"
    assert [(r.returncode, r.stderr) for r in results] == [
        (2, "/dev/zero: not a regular file (a character device)\n"),
        (2, f"{tmp_path}: not a regular file (a directory)\n"),
        (2, f"{latin1}:1: not UTF-8: {why}; save the file as UTF-8\n"),
    ]


APPS_CONFIG = """
clusters:
  - {name: prod, kubeconfig: /etc/gitopsd/prod.kubeconfig}
  - {name: lab, kubeconfig: /etc/gitopsd/lab.kubeconfig}
sources:
  - {name: infra, url: https://git.example.com/infra.git, branch: main}
apps:
  - {name: web, source: infra, path: web, destination: {cluster: prod, namespace: web}}
  - {name: api, source: infra, path: api, destination: {cluster: lab, namespace: api}}
"""
SHA = "1234abcd" * 5


def seed_commit(database_url: str) -> None:
    """Record SHA on source infra, as the poller would."""

    async def go() -> None:
        store = await eventstore.connect(database_url, pool_size=2)
        try:
            commit = ev.CommitRecorded(
                source="infra",
                sha=SHA,
                parents=(),
                author="a",
                author_email="a@example.com",
                authored_at="2026-01-01T00:00:00+00:00",
                committer="a",
                committer_email="a@example.com",
                committed_at="2026-01-01T00:00:00+00:00",
                subject="first",
            )
            await store.append("source/infra", 0, [commit])
        finally:
            await store.close()

    asyncio.run(go())


def told(tmp_path: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `gitopsd ARGS` on APPS_CONFIG and the given database."""
    (tmp_path / "gitopsd.yaml").write_text(APPS_CONFIG)
    result = run(*args, cwd=tmp_path, env={"GITOPSD_DATABASE_URL": database_url})
    return (result.returncode, result.stdout, result.stderr)


def test_suspend_resume_and_sync_with_clusters(tmp_path: Path, database_url: str) -> None:
    """suspend/resume act per target, sync refuses a suspended one, a non-target is exit 2."""
    ann = ("--actor", "cli:ann")
    results = [
        told(tmp_path, database_url, *args)
        for args in (
            ("suspend", "web", "--cluster", "prod", "--reason", "incident", *ann),
            ("suspend", "web", *ann),
            ("sync", "web", *ann),
            ("sync", "web", "--cluster", "lab", "--cluster", "mars", *ann),
            ("resume", "web", *ann),
            ("resume", "web", "--cluster", "prod", *ann),
        )
    ]
    assert results == [
        (
            0,
            (
                "web suspended on prod by cli:ann; nothing is synced, healed or pruned there "
                "until `gitopsd resume web`\n"
            ),
            "",
        ),
        (0, "web was already suspended on prod\n", ""),
        (
            2,
            "",
            (
                "error: app 'web' is suspended on prod: nothing is synced there until "
                "`gitopsd resume web`\n"
            ),
        ),
        (2, "", "error: app 'web' has no target 'lab', 'mars' (its targets: prod)\n"),
        (0, "web resumed on prod by cli:ann\n", ""),
        (0, "web was not suspended on prod\n", ""),
    ]


def test_rollback_status_history_and_unpin(tmp_path: Path, database_url: str) -> None:
    """A pin until a newer commit shows in status (table and JSON) and history, per target."""
    seed_commit(database_url)
    ann = ("--actor", "cli:ann")
    pinned = told(
        tmp_path, database_url, "rollback", "web", "1234abcd", "--until-newer-commit", *ann
    )
    status = told(tmp_path, database_url, "status")
    as_json = told(tmp_path, database_url, "status", "--json")
    history = told(tmp_path, database_url, "history", "web", "--cluster", "prod")
    unpinned = [told(tmp_path, database_url, "unpin", "web", *ann) for _ in range(2)]
    twice = told(tmp_path, database_url, "rollback", "web", "1234", "--to", "1234", *ann)
    assert pinned == (
        0,
        (
            "web pinned to 1234abcd1234 on prod by cli:ann; auto-sync stays there until the "
            "next commit\n"
        ),
        "",
    )
    table = [
        "APP  CLUSTER  NAMESPACE  REVISION  APPLIED  SYNC       HEALTH   PINNED"
        + " " * 18
        + "SUSPENDED  LAST SYNC",
        (
            "web  prod     web        1234abcd  -        OutOfSync  Unknown  1234abcd (until newer)"
            "  -          -"
        ),
        "api  lab      api        -         -        Unknown    Unknown  -" + " " * 23 + "-"
        "          -",
    ]
    assert status == (0, "\n".join(table) + "\n", "")
    unknown = {
        "applied": None,
        "sync": "OutOfSync",
        "health": "Unknown",
        "health_message": "",
        "pinned": None,
        "pin_until_newer_commit": False,
        "suspended": False,
        "last_sync": None,
        "last_sync_at": None,
        "last_sync_message": "",
        "failed_syncs": 0,
        "render_error": None,
        "objects": 0,
    }
    assert orjson.loads(as_json[1]) == [
        {
            **unknown,
            "app": "web",
            "cluster": "prod",
            "namespace": "web",
            "revision": SHA,
            "pinned": SHA,
            "pin_until_newer_commit": True,
        },
        {
            **unknown,
            "app": "api",
            "cluster": "lab",
            "namespace": "api",
            "revision": None,
            "sync": "Unknown",
        },
    ]
    (line,) = history[1].splitlines()
    assert (line[:8], line[29:]) == (
        "     2  ",
        "prod  pinned to 1234abcd until a newer commit by cli:ann",
    )
    assert unpinned == [
        (0, "web unpinned on prod by cli:ann\n", ""),
        (0, "web was not pinned\n", ""),
    ]
    assert twice == (
        2,
        "",
        "error: rollback: give the revision once, as `rollback APP REVISION` or with --to\n",
    )
