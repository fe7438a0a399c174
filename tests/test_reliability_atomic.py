"""atomic_write replaces a file faithfully: through symlinks, keeping permissions, never over a
device, FIFO, socket or directory, and never leaving a temporary file behind."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from nnback.atomic import atomic_write, write_json_atomic

hypothesis = pytest.importorskip("hypothesis")
st = hypothesis.strategies


def write(path, data: bytes = b"new") -> None:
    with atomic_write(path) as file:
        file.write(data)


def test_a_symlink_is_written_through_and_kept(tmp_path):
    (tmp_path / "real.npz").write_bytes(b"old")
    (tmp_path / "link.npz").symlink_to("real.npz")
    write(tmp_path / "link.npz")
    assert (tmp_path / "link.npz").is_symlink() and os.readlink(tmp_path / "link.npz") == "real.npz"
    assert (tmp_path / "real.npz").read_bytes() == b"new"


def test_a_dangling_symlink_creates_its_target(tmp_path):
    (tmp_path / "link.json").symlink_to("made.json")
    write_json_atomic(tmp_path / "link.json", {"a": 1})
    assert (tmp_path / "link.json").is_symlink() and (tmp_path / "made.json").read_text() == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_an_existing_file_keeps_its_permissions(tmp_path, mode):
    path = tmp_path / "ck.npz"
    path.write_bytes(b"old")
    path.chmod(mode)
    write(path)
    assert stat.S_IMODE(path.stat().st_mode) == mode and path.read_bytes() == b"new"


def test_a_new_file_gets_the_umask_permissions(tmp_path):
    old = os.umask(0o027)
    try:
        write(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o640


def not_regular(tmp_path) -> dict:
    os.mkfifo(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "dir").mkdir()
    (tmp_path / "to-null").symlink_to("/dev/null")  # never write /dev/null itself: the tests run as root
    return {"a FIFO": "fifo", "a socket": "sock", "a directory": "dir", "a character device": "to-null"}


def test_special_files_are_never_replaced(tmp_path):
    for kind, name in not_regular(tmp_path).items():
        before = os.lstat(tmp_path / name)
        with pytest.raises(ValueError, match=f"not a regular file \\({kind}\\); refusing to replace it"):
            write(tmp_path / name)
        after = os.lstat(tmp_path / name)
        assert (before.st_ino, before.st_mode) == (after.st_ino, after.st_mode)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.parametrize("error", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, error):
    path = tmp_path / "ck.npz"
    path.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_write(path) as file:
            file.write(b"half")
            raise error
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_an_interrupt_during_the_rename_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "ck.npz"
    path.write_bytes(b"old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write(path)
    assert path.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_the_directory_is_flushed_after_the_rename(tmp_path, monkeypatch):
    synced, real_fsync = [], os.fsync

    def fsync(descriptor):
        synced.append(stat.S_ISDIR(os.fstat(descriptor).st_mode))
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    write(tmp_path / "ck.npz")
    assert synced == [False, True]  # the file's data, then the directory entry


NAMES = st.text(st.characters(blacklist_characters="/\0", blacklist_categories=["Cs"]), min_size=1, max_size=40)
KINDS = ["absent", "file", "link", "dangling", "chain", "fifo", "dir"]


@hypothesis.settings(max_examples=80, deadline=None,
                     suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture])
@hypothesis.given(name=NAMES, kind=st.sampled_from(KINDS), data=st.binary(max_size=300))
def test_any_target_is_written_in_full_or_refused(tmp_path_factory, name, kind, data):
    hypothesis.assume(name not in (".", "..") and len(os.fsencode(name)) < 200)
    helpers = tmp_path_factory.mktemp("target")
    directory = helpers / "out"
    directory.mkdir()
    path = directory / name
    if kind == "file":
        path.write_bytes(b"old")
    elif kind in ("link", "dangling", "chain"):
        (helpers / "real").write_bytes(b"old") if kind != "dangling" else None
        (helpers / "mid").symlink_to("real")
        path.symlink_to(helpers / ("mid" if kind == "chain" else "real"))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "dir":
        path.mkdir()
    try:
        write(path, data)
    except ValueError as error:
        assert kind in ("fifo", "dir") and "\n" not in str(error).replace(name, "")
    else:
        assert kind not in ("fifo", "dir") and path.read_bytes() == data
        assert path.is_symlink() == (kind in ("link", "dangling", "chain"))
    # no temporary left behind (a target may itself be named "x.tmp")
    assert not [p for p in [*directory.iterdir(), *helpers.iterdir()] if p.name.endswith(".tmp") and p != path]


def test_a_name_near_the_file_system_limit_still_gets_a_temporary(tmp_path):
    path = tmp_path / ("n" * 250)  # "." + name + random + ".tmp" would pass the 255-byte limit
    write(path)
    assert path.read_bytes() == b"new"


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    import errno

    path = tmp_path / "ck.npz"
    with pytest.raises(OSError, match=f"No space left on device: '{path}'"):
        with atomic_write(path) as file:
            file.write(b"part")
            raise OSError(errno.ENOSPC, "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_dev_stdout_on_a_pipe_is_refused_as_a_fifo():
    read, write_end = os.pipe()
    try:
        with pytest.raises(ValueError, match=r"not a regular file \(a FIFO\)"):
            write(f"/proc/self/fd/{write_end}")
    finally:
        os.close(read)
        os.close(write_end)
