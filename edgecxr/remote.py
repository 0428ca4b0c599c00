"""Run commands and copy files on a device over SSH, with the system ``ssh`` and ``scp``.

Plain ``ssh`` reads ~/.ssh/config, so host aliases, users, ports and keys the user already set
up just work; ``--ssh-config`` and ``--identity`` override them. Key authentication only
(``BatchMode=yes``: never a password prompt that would hang a script). Unknown host keys are
accepted on first use and checked afterwards (``StrictHostKeyChecking=accept-new``).

    target = SSHTarget("pi@raspberrypi.local")
    with remote_tempdir(target) as folder:
        copy_to(target, [model, runner], folder)
        out = run(target, ["python3", f"{folder}/classify.py", "--bench", "50"], timeout=300)

Every failure a user can fix is a one-line ``DeviceError``: unreachable host, refused
authentication, a command that times out (see ``_SSH_FAILURES``).
"""

from __future__ import annotations

import contextlib
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from edgecxr.errors import ConfigError, DeviceError

SSH_FAILED = 255  # ssh's own exit status when the connection or authentication fails
# (text in ssh's stderr, what went wrong, what to do) -- first match wins
_SSH_FAILURES = [
    ("Permission denied", "authentication refused by {host}",
     "set up key authentication (ssh-copy-id {host}) or pass --identity KEY"),
    ("Host key verification failed", "the host key of {host} changed",
     "if the device was re-installed, remove its old key: ssh-keygen -R HOST"),
    ("Could not resolve hostname", "cannot resolve the host name of {host}",
     "check the name, or use the device's IP address"),
    ("", "{host} is unreachable ({reason})",
     "check that the device is on, on the network, and runs sshd on that port (--port)"),
]


@dataclass(frozen=True)
class SSHTarget:
    """Where to connect: ``[user@]host`` (or a Host alias of ~/.ssh/config) and how."""

    host: str
    port: int | None = None
    identity: Path | None = None  # private key file (ssh -i)
    config: Path | None = None  # ssh config file instead of ~/.ssh/config (ssh -F)
    connect_timeout: int = 10  # seconds

    def _options(self) -> list[str]:
        opts = ["-o", "BatchMode=yes", "-o", f"ConnectTimeout={self.connect_timeout}",
                "-o", "StrictHostKeyChecking=accept-new"]
        if self.config:
            opts += ["-F", str(self.config)]
        if self.identity:
            opts += ["-i", str(self.identity), "-o", "IdentitiesOnly=yes"]
        return opts

    def ssh_command(self, remote_command: str) -> list[str]:
        port = ["-p", str(self.port)] if self.port else []
        return ["ssh", *self._options(), *port, self.host, "--", remote_command]

    def scp_command(self, files: list[Path], remote_dir: str) -> list[str]:
        """Legacy scp (the default before OpenSSH 9.0) hands the remote path to the remote shell:
        the path is checked to plain characters and quoted (a no-op on those, so SFTP-mode scp,
        which does not unquote, reads the same path)."""
        port = ["-P", str(self.port)] if self.port else []  # scp spells it -P
        target = f"{self.host}:{shlex.quote(check_remote_path(remote_dir))}/"
        return ["scp", "-q", "-r", *self._options(), *port, *map(str, files), target]


# A remote folder goes through the device's shell (legacy scp): plain characters only, and no
# leading '-' (it would read as an option of mkdir / tar).
REMOTE_PATH = re.compile(r"[A-Za-z0-9_.+/][A-Za-z0-9_.+/-]*")


def check_remote_path(path: str, flag: str = "--remote-dir") -> str:
    if not REMOTE_PATH.fullmatch(path or ""):
        raise ConfigError(f"remote folder {path!r} holds characters the device's shell would interpret",
                          f"pass {flag} with letters, digits and . _ + - / only (e.g. edgecxr/my-run)")
    return path


def _call(target: SSHTarget, argv: list[str], timeout: float, what: str) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise DeviceError(f"{what} on {target.host} timed out after {timeout:g} s",
                          "raise --timeout, or use fewer --runs") from None
    except FileNotFoundError:
        raise DeviceError(f"`{argv[0]}` is not installed on this computer",
                          "install the OpenSSH client (apt install openssh-client)") from None
    if proc.returncode == SSH_FAILED:
        _raise_ssh_failure(target, proc.stderr)
    return proc


def _raise_ssh_failure(target: SSHTarget, stderr: str) -> None:
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip() and not ln.startswith("Warning:")]
    reason = lines[-1] if lines else "ssh failed"
    for needle, message, hint in _SSH_FAILURES:
        if needle in stderr:
            raise DeviceError(message.format(host=target.host, reason=reason), hint.format(host=target.host))


def run(target: SSHTarget, command: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``command`` (argv, quoted for the remote shell) on the device; never raises on its
    exit status (the caller reads ``returncode``), only on SSH failures and timeouts."""
    return _call(target, target.ssh_command(shlex.join(command)), timeout, f"`{command[0]}`")


# COMMAND runs as a child of a shell, so its death by a signal becomes status 128+N and a line
# on stderr (edgecxr.bench.runner.crash_signal reads it). Without this, sshd forwards the signal
# and ssh exits 255, which reads like a failed connection.
_REPORT_SIGNAL = ('"$@"; s=$?; if [ $s -gt 128 ] && [ $s -lt 193 ]; then '
                  'echo "edgecxr: killed by signal $(kill -l $s)" >&2; fi; exit $s')


def reporting_signals(command: list[str]) -> list[str]:
    """``command`` wrapped so that a crash on the device is reported by its signal's name."""
    return ["sh", "-c", _REPORT_SIGNAL, "sh", *command]


def copy_to(target: SSHTarget, files: list[Path], remote_dir: str, timeout: float = 120) -> None:
    """Copy local ``files`` (folders with their contents) into the existing folder ``remote_dir`` on the device."""
    proc = _call(target, target.scp_command(files, remote_dir), timeout, "copying files")
    if proc.returncode != 0:
        raise DeviceError(f"copying to {target.host}:{remote_dir} failed: {proc.stderr.strip()[-200:]}",
                          "check free space and permissions on the device")


@contextlib.contextmanager
def remote_tempdir(target: SSHTarget, prefix: str = "edgecxr") -> Iterator[str]:
    """A fresh folder on the device (``mktemp -d``), removed afterwards whatever happens."""
    proc = run(target, ["mktemp", "-d", "-t", f"{prefix}.XXXXXX"], timeout=target.connect_timeout + 20)
    if proc.returncode != 0:
        raise DeviceError(f"cannot create a temporary folder on {target.host}: {proc.stderr.strip()}",
                          "check that /tmp on the device is writable")
    folder = proc.stdout.strip()
    try:
        yield folder
    finally:
        with contextlib.suppress(DeviceError):
            run(target, ["rm", "-rf", "--", folder], timeout=target.connect_timeout + 20)
