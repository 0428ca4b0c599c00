"""The Raspberry Pi path on an ARM64 Pi userland emulated by qemu-user (tests/fixtures_pi_emu.py):
`bench --device rpi` and `deploy` over a real sshd on 127.0.0.1 whose remote Python is the
emulated Pi's, `bench --device pi4-emu|pi5-emu`, and the failures a user can meet there."""

import json
import shutil

import pytest
from typer.testing import CliRunner

from edgecxr.bench.pi_emu import board, write_wrapper
from edgecxr.cli import app

runner = CliRunner()
PI4 = board("pi4-emu").model


def ssh_args(server) -> list[str]:
    return ["--host", server.host, "--port", str(server.port), "--identity", str(server.key),
            "--ssh-config", str(server.config), "--connect-timeout", "5"]


def error_line(result) -> str:
    lines = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and result.exit_code == 2, result.output
    return lines[0]


# tflite-runtime 2.14's optimized kernels (builtin, xnnpack) segfault in invoke() on the tiny test
# model under emulation (every QEMU CPU tried); its reference kernels and LiteRT's all run
@pytest.mark.slow
@pytest.mark.parametrize("runtime, kernels", [("litert", "xnnpack"), ("tflite-runtime", "reference")])
def test_bench_rpi_over_ssh_runs_on_the_arm64_pi(ssh_server, tiny_int8_tflite, pi4_python, runtime, kernels):
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "rpi", *ssh_args(ssh_server)[:-2],
                                 "--remote-python", str(pi4_python), "--runtime", runtime, "--kernels", kernels,
                                 "--runs", "5", "--warmup", "1", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["machine"]["machine"] == "aarch64" and out["machine"]["board"] == PI4
    assert out["machine"]["python"].startswith("3.11.")  # Debian 12's, not this computer's
    assert out["machine"]["emulated"] == "qemu-aarch64 -cpu cortex-a72"  # its timings are labelled so
    row = out["results"][0]
    assert row["runtime"] == runtime and row["kernels"] == kernels and row["p50_ms"] > 0


@pytest.mark.slow
def test_deploy_installs_from_its_requirements_and_self_tests_on_the_arm64_pi(ssh_server, deploy_run, pi4_python,
                                                                              tmp_path):
    remote = tmp_path / "pi" / "edgecxr"
    # the default install: a venv made by the Pi's python3, then pip -r requirements.txt (emulated pip
    # resolves the bundle's requirements against the aarch64 wheels the Pi has)
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir", str(remote),
                                 "--python", str(pi4_python), "--runtime", "litert", "--json"])
    assert result.exit_code == 0, result.output
    selftest = json.loads(result.stdout)["selftest"]
    assert selftest["ok"] and selftest["bit_exact"] and selftest["machine"] == "aarch64"
    assert selftest["expected_from"] == "x86_64" and selftest["kernels"] == "reference"
    assert selftest["runtime"] == "litert" and selftest["images"] == len(selftest["results"]) >= 2
    assert (remote / ".venv" / "pyvenv.cfg").is_file()


@pytest.mark.slow
def test_deploy_with_tflite_runtime_on_the_arm64_pi(ssh_server, deploy_run, pi4_python, tmp_path):
    result = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir", str(tmp_path / "d"),
                                 "--no-install", "--python", str(pi4_python), "--runtime", "tflite-runtime", "--json"])
    assert result.exit_code == 0, result.output
    selftest = json.loads(result.stdout)["selftest"]
    assert selftest["ok"] and selftest["bit_exact"] and selftest["machine"] == "aarch64"
    assert selftest["runtime"] == "tflite-runtime" and selftest["kernels"] == "reference"


@pytest.mark.slow
def test_emulated_pi5_gives_the_hosts_bytes_for_reference_and_xnnpack(tiny_int8_tflite, pi4_python):
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "pi5-emu", "--runtime", "litert",
                                 "--kernels", "reference", "--kernels", "xnnpack", "--runs", "6", "--warmup", "1",
                                 "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["device"] == "pi5-emu" and out["emulated"] and out["machine"]["machine"] == "aarch64"
    assert out["machine"]["emulated"] == "qemu-aarch64 -cpu cortex-a76"
    assert [r["kernels"] for r in out["results"]] == ["reference", "xnnpack"]
    for row in out["results"]:
        assert row["images"] == 8 and row["bit_exact_with_host"] == 8 and row["decisions_differ_from_host"] == 0
        assert row["emulated_p50_ms"] > 0 and "p50_ms" not in row  # emulated timings never pass for a Pi's
    (family,) = out["families"]
    assert family["kernels"] == "xnnpack" and family["vs"] == "reference" and family["images"] == 8
    human = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "pi5-emu", "--runtime", "litert",
                                "--kernels", "reference", "--runs", "2", "--warmup", "0"])
    assert "EMULATED" in human.output and "not a Raspberry Pi's speed" in human.output


@pytest.mark.slow
def test_a_runtime_crash_on_the_device_is_reported_by_its_signal(ssh_server, tiny_int8_tflite, pi4_python, tmp_path):
    # the same userland without the Pi's /proc/cpuinfo: LiteRT parses the x86 one and segfaults
    sysroot = pi4_python.parents[1] / "sysroot"
    crashing = write_wrapper(tmp_path / "python3", sysroot, board("pi4-emu"), shutil.which("qemu-aarch64-static"))
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "rpi", *ssh_args(ssh_server)[:-2],
                                 "--remote-python", str(crashing), "--runtime", "litert", "--runs", "2"])
    assert "killed by SIGSEGV" in error_line(result) and "hint:" in result.output


@pytest.mark.slow
def test_a_runtime_without_an_aarch64_wheel(tiny_int8_tflite, pi4_python):
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "pi4-emu", "--runtime", "tflite-micro"])
    assert "no aarch64 wheel of tflite-micro" in error_line(result)
    assert "--runtime litert" in result.output


def test_missing_emulator_tools_are_named_with_their_debian_packages(tiny_int8_tflite, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither qemu-aarch64-static nor mmdebstrap on it
    monkeypatch.setenv("EDGECXR_CACHE", str(tmp_path / "cache"))
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "pi4-emu"])
    assert "needs qemu-aarch64-static, mmdebstrap" in error_line(result)
    assert "hint: install the Debian package(s): sudo apt install qemu-user-static mmdebstrap" in result.output


def test_unknown_kernel_family(tiny_int8_tflite):
    result = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "pi4-emu", "--kernels", "neon"])
    assert "unknown kernels 'neon'" in error_line(result) and "reference, builtin, xnnpack" in result.output


def test_a_wrong_remote_python(ssh_server, tiny_int8_tflite, deploy_run, tmp_path):
    bench = runner.invoke(app, ["bench", str(tiny_int8_tflite), "--device", "rpi", *ssh_args(ssh_server)[:-2],
                                "--remote-python", "/bin/true", "--runs", "2"])
    assert "--remote-python /bin/true" in error_line(bench) and "not a Python" in error_line(bench)
    deploy = runner.invoke(app, ["deploy", str(deploy_run), *ssh_args(ssh_server), "--remote-dir",
                                 str(tmp_path / "d"), "--python", "/bin/true"])
    assert "--python /bin/true" in error_line(deploy) and "not a Python 3.9" in error_line(deploy)
    assert not (tmp_path / "d").exists()  # caught before anything was copied
