"""The filesystem broker never hands a worker a message that is still being written."""

import os
from queue import Empty

import pytest
from kombu import Connection

import config.broker_files as broker_files


@pytest.fixture
def channel(tmp_path):
    broker_files.register()
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path), "store_processed": False}
    with Connection("filesystem://", transport_options=options) as connection:
        assert isinstance(connection.transport, broker_files.Transport)
        yield connection.default_channel


def test_a_reader_in_the_middle_of_a_write_sees_nothing_then_the_whole_message(channel, monkeypatch, tmp_path):
    seen_mid_write = []
    real_replace = os.replace

    def replace_after_a_reader_looked(src, dst):
        # The worst moment for kombu's own transport: the file exists, its bytes may not.
        assert os.path.getsize(src) > 0
        try:
            seen_mid_write.append(channel._get("default"))
        except Empty:
            seen_mid_write.append(None)
        real_replace(src, dst)

    monkeypatch.setattr(broker_files.os, "replace", replace_after_a_reader_looked)
    channel._put("default", {"body": "x" * 10_000, "n": 1})

    assert seen_mid_write == [None]
    assert channel._get("default") == {"body": "x" * 10_000, "n": 1}
    assert os.listdir(tmp_path) == []


def test_messages_keep_their_order(channel):
    for n in range(20):
        channel._put("default", {"n": n})
    assert [channel._get("default")["n"] for _ in range(20)] == list(range(20))


def _test_settings_broker_dir(**env) -> str:
    import subprocess
    import sys

    code = "import config.settings.test as s; print(s.BROKER_FILES_DIR)"
    environ = {k: v for k, v in os.environ.items() if k not in ("CELERY_FILESYSTEM_BROKER_DIR", "PYTEST_XDIST_WORKER")}
    done = subprocess.run([sys.executable, "-c", code], env=environ | env, capture_output=True, text=True, check=True,
                          cwd=broker_files.__file__.rsplit("/config/", 1)[0])
    return done.stdout.strip()


def test_each_test_process_has_its_own_broker_folder(tmp_path):
    # pytest-xdist's processes inherit the controller's environment, default folder included: a
    # shared folder let one process's worker run the other's tasks against the wrong database.
    default = _test_settings_broker_dir()
    assert default.endswith("test-broker")
    assert _test_settings_broker_dir(CELERY_FILESYSTEM_BROKER_DIR=default, PYTEST_XDIST_WORKER="gw1") == default + "-gw1"
    assert _test_settings_broker_dir(PYTEST_XDIST_WORKER="gw0") == default + "-gw0"
    given = str(tmp_path / "broker")  # a folder a test gives its own worker is kept as it is
    assert _test_settings_broker_dir(CELERY_FILESYSTEM_BROKER_DIR=given, PYTEST_XDIST_WORKER="gw1") == given
