"""`edgecxr bench --device rpi` end to end against a real sshd on 127.0.0.1 (this machine is the Pi)."""

import json
import socket
import sys

import pytest
from typer.testing import CliRunner

from edgecxr import remote
from edgecxr.bench.rpi import RpiOptions, bench_rpi
from edgecxr.cli import app
from edgecxr.errors import DeviceError
from tests.fixtures_ssh import free_port


def target(server, key=None, port=None) -> remote.SSHTarget:
    return remote.SSHTarget(server.host, port=port or server.port, identity=key or server.key,
                            config=server.config, connect_timeout=5)


def leftover_dirs() -> set:
    import glob

    return set(glob.glob("/tmp/edgecxr-bench.*"))


def test_rpi_bench_end_to_end_through_the_cli(ssh_server, tiny_int8_tflite):
    before = leftover_dirs()
    result = CliRunner().invoke(app, [
        "bench", str(tiny_int8_tflite), "--device", "rpi", "--host", ssh_server.host,
        "--port", str(ssh_server.port), "--identity", str(ssh_server.key), "--ssh-config", str(ssh_server.config),
        "--remote-python", sys.executable, "--runs", "20", "--warmup", "2", "--threads", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["device"] == "rpi" and out["host"] == ssh_server.host
    row = out["results"][0]
    assert row["model"] == tiny_int8_tflite.name and row["input_dtype"] == "int8"
    assert row["runtime"] in ("litert", "tflite-runtime", "tf.lite") and row["runtime_version"]
    assert 0 < row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"]
    assert row["runs"] == 20 and row["peak_rss_mb"] > 0
    assert out["machine"]["cores"] >= 1 and out["machine"]["python"].startswith("3.")
    assert leftover_dirs() == before  # the temporary folder on the device is gone


def test_remote_run_and_copy(ssh_server, tmp_path):
    t = target(ssh_server)
    f = tmp_path / "hello.txt"
    f.write_text("hi")
    with remote.remote_tempdir(t) as folder:
        remote.copy_to(t, [f], folder)
        assert remote.run(t, ["cat", f"{folder}/hello.txt"]).stdout == "hi"
    assert remote.run(t, ["test", "-e", folder]).returncode == 1


def test_unreachable_host(ssh_server):
    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    with pytest.raises(DeviceError, match="unreachable"):
        remote.run(target(ssh_server, port=closed), ["true"])


def test_authentication_refused(ssh_server):
    with pytest.raises(DeviceError, match="authentication refused") as e:
        remote.run(target(ssh_server, key=ssh_server.wrong_key), ["true"])
    assert "ssh-copy-id" in e.value.hint


def test_run_that_times_out(ssh_server, tiny_int8_tflite):
    opts = RpiOptions(runs=10**8, warmup=0, python=sys.executable, timeout=3)
    with pytest.raises(DeviceError, match="timed out"):
        bench_rpi(tiny_int8_tflite, target(ssh_server), opts)


def test_no_runtime_on_the_device(ssh_server, tiny_int8_tflite, python_without_runtimes):
    opts = RpiOptions(runs=5, python=str(python_without_runtimes))
    with pytest.raises(DeviceError, match="no TFLite runtime") as e:
        bench_rpi(tiny_int8_tflite, target(ssh_server), opts)
    assert "--install" in e.value.hint and "ai-edge-litert" in e.value.hint


def test_no_python_on_the_device(ssh_server, tiny_int8_tflite):
    with pytest.raises(DeviceError, match="no /nonexistent/python3"):
        bench_rpi(tiny_int8_tflite, target(ssh_server), RpiOptions(runs=5, python="/nonexistent/python3"))


def test_cli_error_is_one_line(ssh_server, tiny_int8_tflite):
    result = CliRunner().invoke(app, [
        "bench", str(tiny_int8_tflite), "--device", "rpi", "--host", ssh_server.host,
        "--port", str(free_port()), "--ssh-config", str(ssh_server.config), "--identity", str(ssh_server.key)])
    assert result.exit_code == 2
    assert "error:" in result.output and "unreachable" in result.output
