"""`gitopsd demo` as a newcomer runs it: the whole story on embedded defaults, nothing left behind."""

from __future__ import annotations

import getpass
import re
from pathlib import Path

from clitools import gitopsd, postgres_processes_in

# What each step ends with, once revisions and timings are masked.
STORY = [
    "=> v1 <sha> synced and Healthy (<t>)",
    "=> v2 <sha> auto-synced, rolled out and Healthy (<t>)",
    "=> v3 <sha> synced: ConfigMap/shop/web-settings pruned (<t>)",
    "=> v4 <sha> synced but Degraded: its pods never become ready (<t>)",
    "=> rolled back to <sha> and Healthy again (<t>)",
]


def masked(line: str) -> str:
    """The line with revisions, sync ids and timings replaced by placeholders."""
    line = re.sub(r"\b[0-9a-f]{8}\b", "<sha>", line.strip())
    line = re.sub(r"\bweb@sim-\d+\b", "web@sim-<n>", line)
    return re.sub(r"\(\d+\.\d s\)", "(<t>)", line)


def story_lines(stdout: str) -> list[str]:
    return [masked(line) for line in stdout.splitlines() if line.strip().startswith("=> ")]


def test_demo_tells_the_whole_story_and_leaves_nothing_running(tmp_path: Path) -> None:
    """Sync, auto-sync, prune, Degraded, rollback, history and a clean verify; temp dir removed."""
    # The demo never uses an external database, even when one is configured.
    result = gitopsd(
        "demo", cwd=tmp_path, env={"GITOPSD_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert story_lines(result.stdout) == STORY
    lines = result.stdout.splitlines()
    state_dir = Path(lines[1].split()[2])
    assert lines[1] == f"  state directory  {state_dir} (temporary; keep it: --state-dir)"
    history = lines[lines.index("7. history (gitopsd history web):") + 1 :]
    told = [masked(line).split("  ")[-1].strip() for line in history]
    assert [t for t in told if " planned for " in t or t.startswith("pinned")] == [
        "sync web@sim-<n> planned for <sha> (revision): 4 create",
        "sync web@sim-<n> planned for <sha> (revision): 3 unchanged, 1 update",
        "sync web@sim-<n> planned for <sha> (revision): 1 prune, 3 unchanged",
        "sync web@sim-<n> planned for <sha> (revision): 2 unchanged, 1 update",
        f"pinned to <sha>: nginx:broken never became ready by cli:{getpass.getuser()}",
        "sync web@sim-<n> planned for <sha> (revision): 2 unchanged, 1 update",
    ]
    assert [t for t in told if t.startswith(("created ", "updated ", "pruned "))] == [
        "created Namespace/shop",
        "created ConfigMap/shop/web-settings",
        "created Service/shop/web",
        "created Deployment/shop/web",
        "updated Deployment/shop/web",
        "pruned ConfigMap/shop/web-settings",
        "updated Deployment/shop/web",
        "updated Deployment/shop/web",
    ]
    verified = [line for line in lines if line.startswith("8. verify")]
    assert len(verified) == 1
    assert re.fullmatch(
        r"8\. verify \(gitopsd verify\): \d+ events replayed; recomputed 5 plans, 5 sync triggers, "
        r"0 pin lifts, 0 normalization gaps, 1 target changes; "
        r"0 differences: the log replays cleanly",
        verified[0],
    ), verified
    assert lines[-2:] == [
        "stopped the daemon, the emulator and the embedded PostgreSQL",
        f"removed {state_dir}",
    ]
    assert not state_dir.exists()
    assert postgres_processes_in(state_dir) == []
    assert result.stderr == ""


def test_demo_keeps_its_state_dir_for_a_second_look(tmp_path: Path) -> None:
    """With --state-dir the log stays: `history` reads it later; a non-empty directory is refused."""
    state_dir = tmp_path / "demo"
    result = gitopsd("demo", "--state-dir", str(state_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert story_lines(result.stdout) == STORY
    config = state_dir / "gitopsd.yaml"
    assert result.stdout.splitlines()[-2:] == [
        f"daemon log: {state_dir / 'gitopsd.log'}",
        f"look again later: gitopsd --config {config} history web",
    ]
    assert postgres_processes_in(state_dir) == []
    later = gitopsd("--config", str(config), "history", "web", cwd=tmp_path)
    assert later.returncode == 0, later.stderr
    tail = [masked(line).split("  ")[-1] for line in later.stdout.splitlines()[-1:]]
    assert tail == ["health Healthy"]
    assert postgres_processes_in(state_dir) == []
    again = gitopsd("demo", "--state-dir", str(state_dir), cwd=tmp_path)
    assert (again.returncode, again.stderr) == (
        2,
        f"error: {state_dir} is not empty: give the demo a new or empty directory\n",
    )
