"""Writes survive faults: a failed or killed write keeps the previous file, a full disk keeps the last good
checkpoint with a clear error, a corrupt reference cache is rebuilt, and no pinnkit code writes a file directly."""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from pinnkit.train import train
from tests.conftest import compose_cfg
from tests.test_runs import FAST

ROOT = Path(__file__).resolve().parents[1]


def test_a_write_that_fails_keeps_the_previous_file_and_no_temp(tmp_path):
    from pinnkit.atomic import TEMP_MARK, atomic_open, write_text

    path = tmp_path / "summary.json"
    write_text(path, "old")
    with pytest.raises(RuntimeError, match="boom"), atomic_open(path, "w") as f:
        f.write("half of the new")
        raise RuntimeError("boom")
    assert path.read_text() == "old" and not list(tmp_path.glob(f"*{TEMP_MARK}*"))


def test_a_full_disk_is_named_and_keeps_the_previous_file(tmp_path, monkeypatch):
    from pinnkit import atomic

    path = tmp_path / "last.ckpt"
    atomic.write_bytes(path, b"good")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    with pytest.raises(OSError, match=r"no space left on the device while writing .*the previous file is kept"):
        atomic.write_bytes(path, b"new")
    assert path.read_bytes() == b"good" and len(list(tmp_path.iterdir())) == 1


def test_a_full_disk_masked_by_the_writer_is_still_named(tmp_path):
    """torch's zip writer reports a failed write as a RuntimeError raised while handling the OSError: the chain is
    searched, so the error still says the disk is full and the previous file is kept."""
    from pinnkit import atomic

    path = tmp_path / "last.ckpt"
    atomic.write_bytes(path, b"good")
    masked = RuntimeError("[enforce fail at inline_container.cc] unexpected pos")
    masked.__context__ = OSError(errno.ENOSPC, "No space left on device")  # as raised inside its except block
    full = r"no space left on the device while writing .*the previous file is kept"
    with pytest.raises(OSError, match=full), atomic.atomic_open(path) as f:
        f.write(b"part")
        raise masked
    assert path.read_bytes() == b"good" and len(list(tmp_path.iterdir())) == 1


def _mount_tmpfs(where: Path, size_kb: int) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(where)],
                          capture_output=True).returncode == 0  # fmt: skip


def test_a_really_full_disk_keeps_the_last_good_checkpoint(tmp_path):
    """The run's checkpoints on a tmpfs with room for the first validation's two files and little more: the
    second validation's write fails with a clear error, and the first checkpoints stay whole."""
    common = [*FAST, "trainer.val_check_interval=2", "trainer.max_steps=4"]
    probe = tmp_path / "probe"
    train(compose_cfg(probe, *common))
    size = (probe / "checkpoints" / "last.ckpt").stat().st_size
    run = tmp_path / "run"
    if not _mount_tmpfs(run / "checkpoints", (2 * size + size // 2) // 1024 + 4):
        pytest.skip("cannot mount a tmpfs here (needs root and CAP_SYS_ADMIN, as in CI)")
    try:
        with pytest.raises(OSError, match=r"no space left on the device while writing .*the previous file is kept"):
            train(compose_cfg(run, *common))
        from pinnkit.checkpoints import read_checkpoint

        kept = {p.name: read_checkpoint(p)["global_step"] for p in (run / "checkpoints").glob("*.ckpt")}
        assert kept and set(kept.values()) == {2}, kept  # whole, verified, from the first validation
        assert not [p for p in (run / "checkpoints").iterdir() if p.suffix != ".ckpt"]  # no temp left
    finally:
        subprocess.run(["umount", str(run / "checkpoints")], check=False)


def test_a_kill_during_a_checkpoint_write_keeps_the_last_good_one_and_the_next_start_cleans_up(tmp_path):
    from pinnkit.atomic import TEMP_MARK
    from pinnkit.checkpoints import read_checkpoint

    run = tmp_path / "run"
    common = [*FAST, "trainer.precision=64", "trainer.val_check_interval=3", "trainer.max_steps=9"]
    cmd = [sys.executable, "tests/fault_runner.py", str(run), "--hang-writing", "last.ckpt", "--", *common]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / ".hung").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()[-3000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)  # mid-write: the temp file holds the second last.ckpt, unsynced
    proc.wait()
    temps = list((run / "checkpoints").glob(f"*{TEMP_MARK}*"))
    assert temps, "the killed write left its temp file"
    ckpt = run / "checkpoints" / "last.ckpt"
    assert read_checkpoint(ckpt)["global_step"] == 3  # the first one, whole and verified
    summary = train(compose_cfg(run, *common, f"ckpt_path={ckpt}"))  # resume in the same directory
    assert summary["steps"] == 9 and not list(run.rglob(f"*{TEMP_MARK}*"))


def _cache(tmp_path, monkeypatch) -> tuple[Path, list[int], object]:
    from pinnkit.references.cache import cached

    monkeypatch.setenv("PINNKIT_CACHE", str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"u": np.arange(1000.0)}

    cached("ref", {"a": 1}, compute)
    (path,) = tmp_path.glob("ref-*.npz")
    return path, calls, lambda: cached("ref", {"a": 1}, compute)


@pytest.mark.parametrize("damage", ["truncate", "crc", "empty", "random"])
def test_a_corrupt_reference_cache_is_rebuilt(tmp_path, monkeypatch, damage):
    path, calls, again = _cache(tmp_path, monkeypatch)
    data = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "crc":  # one byte of the compressed array: the zip directory is intact, the CRC is not
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("u.npy")
        at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
        path.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(os.urandom(len(data)))
    out = again()
    assert len(calls) == 2 and np.array_equal(out["u"], np.arange(1000.0))
    assert np.array_equal(np.load(path)["u"], np.arange(1000.0))  # rewritten whole
    assert again() is not None and len(calls) == 2  # and then reused


WRITES = re.compile(r"\.write_text\(|\.write_bytes\(|np\.savez|\.savefig\(|torch\.save\(|open\([^)]*[\"'][wa]b?[\"']")


def test_no_pinnkit_code_writes_a_file_except_through_atomic():
    """pinnkit's modules and its experiment scripts (tables, plots, progress logs) all write through
    :mod:`pinnkit.atomic`; only a kernel interface (``/proc``) is written in place."""
    found = []
    for path in sorted([*(ROOT / "pinnkit").rglob("*.py"), *(ROOT / "experiments").glob("*.py")]):
        if path.name == "atomic.py":
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if WRITES.search(line) and not line.lstrip().startswith("#") and "/proc/" not in line:
                found.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_finished_run_leaves_no_temp_files_and_valid_outputs(tmp_path):
    from pinnkit.atomic import TEMP_MARK

    train(compose_cfg(tmp_path, *FAST, "trainer.max_steps=4", "trainer.val_check_interval=2"))
    assert not list(tmp_path.rglob(f"*{TEMP_MARK}*"))
    json.loads((tmp_path / "summary.json").read_text())
    assert np.load(tmp_path / "solution.npz")["u_pred"].shape == (101, 201)
    assert torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4
