"""`edgecxr deploy` over a real sshd on 127.0.0.1 (this machine plays the Raspberry Pi), and
`edgecxr flash` without a board."""

import json
import shutil
import socket
import sys
import threading

import pytest
from typer.testing import CliRunner

from edgecxr.cli import app
from tests.fixtures_ssh import free_port

runner = CliRunner()


def ssh_args(server, **override) -> list[str]:
    opts = {"--host": server.host, "--port": str(server.port), "--identity": str(server.key),
            "--ssh-config": str(server.config), "--connect-timeout": "5", **override}
    return [x for kv in opts.items() for x in kv]


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, result.output
    return lines[0]


def test_deploy_installs_verifies_and_self_tests(ssh_server, deploy_run, tmp_path):
    remote = tmp_path / "device" / "edgecxr"
    # --install python: install.sh pip-installs requirements.txt into the device's existing Python
    # (here this venv, where every requirement is already satisfied: no internet needed)
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir", str(remote),
                                 "--install", "python", "--python", sys.executable, "--runtime", "litert", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    manifest = json.loads((deploy_run / "export" / "bundle" / "manifest.json").read_text())
    rpi_files = [rel for rel in manifest["files"] if rel.startswith("rpi/")]
    assert doc["files_verified"] == len(rpi_files)
    assert doc["selftest"]["ok"] and doc["selftest"]["bit_exact"] and doc["selftest"]["checksums_bad"] == []
    assert [r["label"] for r in doc["selftest"]["results"]] == [r["label"] for r in manifest["selftest"]["images"]]
    for rel in rpi_files:  # what landed on the device is what the manifest lists
        assert (remote / rel[len("rpi/"):]).read_bytes() == (deploy_run / "export" / "bundle" / rel).read_bytes()
    unit = (remote / "edgecxr-classify.service").read_text()  # install.sh filled in the paths
    assert f"ExecStart={sys.executable} {remote}/classify.py" in unit


def test_deploy_with_no_install_uses_the_devices_python(ssh_server, deploy_run, tmp_path):
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir",
                                 str(tmp_path / "d"), "--no-install", "--python", sys.executable, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["selftest"]["ok"]
    assert not (tmp_path / "d" / "edgecxr-classify.service").exists()  # install.sh did not run


def test_deploy_to_a_device_without_runtime_fails_in_one_line(ssh_server, deploy_run, tmp_path,
                                                              python_without_runtimes):
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir",
                                 str(tmp_path / "d"), "--no-install", "--python", str(python_without_runtimes)])
    assert result.exit_code == 2
    assert "self-test on" in error_line(result) and "no TFLite runtime" in error_line(result)


def test_deploy_refused_by_the_host(ssh_server, deploy_run):
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server, **{"--identity":
                                                                                    str(ssh_server.wrong_key)})])
    assert result.exit_code == 2
    assert "authentication refused" in error_line(result)


def test_deploy_to_a_closed_port(ssh_server, deploy_run):
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server, **{"--port": str(free_port())})])
    assert result.exit_code == 2
    assert "unreachable" in error_line(result)


def test_deploy_to_a_host_that_never_answers_times_out(ssh_server, deploy_run):
    silent = socket.socket()  # accepts the TCP connection, never says a word of SSH
    silent.bind(("127.0.0.1", 0))
    silent.listen(4)
    accepted = []
    threading.Thread(target=lambda: accepted.append(silent.accept()), daemon=True).start()
    try:
        result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server, **{
            "--port": str(silent.getsockname()[1]), "--connect-timeout": "1"})])
    finally:
        silent.close()
    assert result.exit_code == 2
    assert "unreachable" in error_line(result) and "timed out" in error_line(result)


def test_deploy_unknown_device(deploy_run):
    result = runner.invoke(app, ["deploy", str(deploy_run), "--host", "pi@x", "--device", "raspberry"])
    assert result.exit_code == 2 and "unknown --device 'raspberry'" in error_line(result)


# -- flash -----------------------------------------------------------------------------------------
def test_flash_dry_run_prints_the_exact_commands(deploy_run):
    result = runner.invoke(app, ["flash", str(deploy_run), "--board", "nano33ble", "--port", "/dev/ttyACM7",
                                 "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    lib = deploy_run / "export" / "bundle" / "arduino" / "edgecxr_tiny_run"
    sketch = lib / "examples" / "tiny_run_classify"
    assert doc["commands"] == [
        f"arduino-cli compile --fqbn arduino:mbed_nano:nano33ble --library {lib} {sketch}",
        f"arduino-cli upload --fqbn arduino:mbed_nano:nano33ble --port /dev/ttyACM7 {sketch}",
    ]
    human = runner.invoke(app, ["flash", str(deploy_run), "--board", "nano33ble", "--dry-run"])
    assert doc["commands"][0] in human.output and "core install" in human.output


def test_flash_unknown_board_suggests_the_nearest(deploy_run):
    result = runner.invoke(app, ["flash", str(deploy_run), "--board", "nano33"])
    assert result.exit_code == 2
    assert "unknown board 'nano33'" in error_line(result) and "did you mean 'nano33ble'" in result.output


@pytest.mark.skipif(shutil.which("arduino-cli") is not None, reason="arduino-cli is installed here")
def test_flash_without_arduino_cli(deploy_run):
    result = runner.invoke(app, ["flash", str(deploy_run), "--board", "nano33ble"])
    assert result.exit_code == 2
    assert "arduino-cli is not installed" in error_line(result) and "--dry-run" in result.output


@pytest.mark.skipif(shutil.which("arduino-cli") is None, reason="arduino-cli not installed: the tool check fires "
                    "first (test_flash_without_arduino_cli)")
def test_flash_without_the_board(deploy_run):
    result = runner.invoke(app, ["flash", str(deploy_run), "--board", "nano33ble", "--port", "/dev/edgecxr-none"])
    assert result.exit_code == 2
    assert "no Arduino Nano 33 BLE Sense" in error_line(result)


def test_a_stale_bundle_is_not_deployed(deploy_run, tmp_path):
    stale = tmp_path / "tiny-run"
    shutil.copytree(deploy_run, stale)
    model = stale / "model_ptq_int8.tflite"
    model.write_bytes(model.read_bytes() + b"\0")  # the run's model changed after the export
    result = runner.invoke(app, ["flash", str(stale), "--board", "nano33ble", "--dry-run"])
    assert result.exit_code == 2
    assert "not the run's current model_ptq_int8.tflite" in error_line(result)
    assert "--format bundle --force" in result.output
