"""A real OpenSSH server on 127.0.0.1 that plays the Raspberry Pi (this machine is the device).

Throwaway host and user keys in a tmp dir; sshd runs as the current user (root in CI, hence
PermitRootLogin); an ssh config file points the client at it without touching ~/.ssh.
"""

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SSHServer:
    port: int
    user: str
    key: Path  # the authorized private key
    wrong_key: Path  # a key sshd does not know
    config: Path  # ssh client config (known_hosts in the tmp dir)
    folder: Path

    @property
    def host(self) -> str:
        return f"{self.user}@127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path, kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def ssh_server(tmp_path_factory):
    if not SSHD.exists() or not shutil.which("ssh"):
        pytest.skip("OpenSSH server not installed (apt install openssh-server openssh-client)")
    folder = tmp_path_factory.mktemp("sshd")
    os.chmod(folder, 0o700)
    host_key, key, wrong = _keygen(folder / "host_key"), _keygen(folder / "user_key"), _keygen(folder / "wrong_key")
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    port, user = free_port(), getpass.getuser()
    cfg = folder / "sshd_config"
    cfg.write_text(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {host_key}
PidFile {folder}/sshd.pid
AuthorizedKeysFile {folder}/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin yes
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
""")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    proc = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(cfg)], stderr=subprocess.PIPE, text=True)
    client = folder / "ssh_config"
    client.write_text(f"Host *\n  UserKnownHostsFile {folder}/known_hosts\n  LogLevel ERROR\n")
    deadline = time.time() + 10
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sshd did not start: {proc.stderr.read()[-500:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    yield SSHServer(port, user, key, wrong, client, folder)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="session")
def python_without_runtimes(tmp_path_factory) -> Path:
    """A python3 that finds numpy and Pillow but none of the TFLite runtimes (a bare device)."""
    folder = tmp_path_factory.mktemp("bare_python")
    hide = folder / "hide"
    for module in ("ai_edge_litert", "tflite_runtime", "tensorflow", "tflite_micro"):
        (hide / module).mkdir(parents=True)
        (hide / module / "__init__.py").write_text(f"raise ImportError('{module} hidden for this test')\n")
    wrapper = folder / "python3"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={hide} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper
