"""Special files handed to the CLI where it reads a model or an image: refused at once, never
read (a FIFO opened for reading would block until some writer appeared)."""

from __future__ import annotations

import os
import signal
import socket
import threading

import pytest
from click.testing import CliRunner

from nnback.cli import main
from nnback.signals import StopOnSignal


@pytest.fixture
def specials(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    yield {"a FIFO": tmp_path / "fifo", "a socket": tmp_path / "sock", "a character device": "/dev/zero",
           "a directory": tmp_path}
    sock.close()


def commands(path, small_mnist_dir):
    data = ["--data", str(small_mnist_dir)]
    return {"--resume": ["train", "--resume", path], "evaluate": ["evaluate", path, *data],
            "predict": ["predict", path, "--index", "0", *data], "--image": ["predict", "model.npz", "--image", path]}


def test_special_files_are_refused_everywhere_a_model_or_image_is_read(specials, small_mnist_dir, alarm):
    for kind, path in specials.items():
        for where, args in commands(str(path), small_mnist_dir).items():
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 2, (kind, where, result.output)
            assert f"not a regular file ({kind})" in result.output, (kind, where, result.output)
            assert "Traceback" not in result.output


def test_stop_on_signal_outside_the_main_thread_does_nothing():
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    seen = []

    def worker():
        with StopOnSignal() as stop:
            seen.append(stop())

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == [False]
    assert before == {number: signal.getsignal(number) for number in before}


def test_stop_on_signal_handles_hup_like_term():
    before = signal.getsignal(signal.SIGHUP)
    with StopOnSignal(notice=lambda message: None) as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop() and stop.exit_code == 129 and stop.signal_name == "SIGHUP"
    assert signal.getsignal(signal.SIGHUP) == before  # put back on the way out


def test_signals_after_the_abort_let_the_cleanup_finish():
    """Ctrl-C hammered: the first raises, the ones during cleanup (removing a temporary file) do not."""
    from nnback.signals import Interrupted

    cleaned = False
    with StopOnSignal(defer=False) as stop:
        try:
            os.kill(os.getpid(), signal.SIGINT)
        except Interrupted as error:
            assert error.exit_code == 130
            os.kill(os.getpid(), signal.SIGINT)  # would interrupt the cleanup below
            os.kill(os.getpid(), signal.SIGTERM)
            cleaned = True
    assert cleaned and stop.signal_name == "SIGINT"
