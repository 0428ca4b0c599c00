"""Installing a run's bundle on a Raspberry Pi over SSH (the ssh-pi target's install,
``edgecxr deploy``), and the run's bundle that every device path ships (``bundle_folder``).

The bundle's rpi/ folder goes over SSH (edgecxr.remote) as one archive, its files are checked on
the device against the bundle manifest's sha256, its requirements are installed (install.sh:
venv + pip, or pip into an existing Python, or nothing), and its self-test runs on the bundled
images near the decision threshold, byte for byte for one kernel family.
"""

from __future__ import annotations

import json
import shlex
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgecxr.checks import lookup
from edgecxr.errors import DeviceError, RunError
from edgecxr.files import MANIFEST
from edgecxr.progress import log
from edgecxr.runs import DEFAULT_RUNS_ROOT, Run

BUNDLE = Path("export") / "bundle"
RPI_PART = "rpi"
ARDUINO_PART = "arduino"
INSTALL_TIMEOUT = 1800  # pip building numpy/Pillow from source on a Pi Zero takes long
STEP_TIMEOUT = 120


@dataclass(frozen=True)
class InstallMode:
    help: str
    install_args: list[str] | None  # install.sh arguments; None: do not run it
    venv: bool  # the self-test runs with .venv/bin/python instead of --python


INSTALL_MODES = {
    "venv": InstallMode("a venv in the bundle folder (reusing apt's numpy/Pillow), then pip", [], True),
    "python": InstallMode("pip into the environment of --python itself", ["--here"], False),
    "none": InstallMode("install nothing; use the device's existing --python and its TFLite runtime", None, False),
}


def bundle_folder(run: Run, model: str | None = None) -> Path:
    """The run's export/bundle, exported now when the run has none yet."""
    folder = run.path / BUNDLE
    if not (folder / MANIFEST).is_file():
        from edgecxr.export import ExportOptions, export

        export(run, ExportOptions("bundle", model=model))
    from edgecxr.export.bundle import verify_bundle
    from edgecxr.files import sha256_file

    again = f"re-export it: edgecxr export {run.path} --format bundle --force" + (f" --model {model}" if model else "")
    bad = verify_bundle(folder)
    if bad:
        raise RunError(f"{folder} changed since it was exported ({', '.join(bad[:3])})", again)
    exported = json.loads((folder / MANIFEST).read_text())["model"]
    choice = run.int8(model)
    log(f"model: {choice.artifact.title} ({choice.reason})")
    wanted = choice.path
    if exported["source"] != wanted.name or exported["sha256"] != sha256_file(wanted):
        raise RunError(f"{folder} holds {exported['source']} as it was, not the run's current {wanted.name}", again)
    return folder


def _rpi_archive(bundle: Path, tmp: Path) -> Path:
    archive = tmp / "edgecxr-rpi.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(bundle / RPI_PART, arcname=".")
    return archive


def _expected_sums(bundle: Path) -> dict[str, str]:
    files = json.loads((bundle / MANIFEST).read_text())["files"]
    prefix = f"{RPI_PART}/"
    return {rel[len(prefix):]: info["sha256"] for rel, info in files.items() if rel.startswith(prefix)}


def _check(proc, what: str, host: str, hint: str) -> str:
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        raise DeviceError(f"{what} on {host} failed: {lines[-1] if lines else f'exit {proc.returncode}'}", hint)
    return proc.stdout


def _check_python(target, python: str) -> None:
    """Fail before copying anything when ``python`` on the device is missing or not Python 3.9+."""
    from edgecxr import remote

    proc = remote.run(target, [python, "-c", "import sys; print(sys.version_info >= (3, 9))"], timeout=STEP_TIMEOUT)
    if proc.returncode != 0 or proc.stdout.strip() != "True":
        said = next(iter((proc.stderr or proc.stdout).strip().splitlines()), f"exit {proc.returncode}")
        raise DeviceError(f"--python {python} on {target.host} is not a Python 3.9 or newer ({said})",
                          "pass --python PATH to the device's python3 (e.g. /usr/bin/python3)")


@dataclass(frozen=True)
class DeployOptions:
    host: str  # [USER@]HOST or a Host alias of ~/.ssh/config
    port: int | None = None
    identity: Path | None = None
    ssh_config: Path | None = None
    remote_dir: str | None = None  # None: edgecxr/<run name> in the user's home
    install: str = "venv"  # INSTALL_MODES
    python: str = "python3"
    runtime: str | None = None
    model: str | None = None
    connect_timeout: int = 10
    runs_root: Path = DEFAULT_RUNS_ROOT
    kernels: str | None = None

    def __post_init__(self):
        from edgecxr.checks import check_number
        from edgecxr.runtimes import check_kernels

        lookup(INSTALL_MODES, self.install, "install mode")
        check_number("port", self.port, "--port")
        check_number("connect_timeout", self.connect_timeout, "--connect-timeout")
        if self.kernels:
            check_kernels(self.kernels)


def deploy(run: str | Path, options: DeployOptions) -> dict:
    """Copy the rpi bundle to ``options.host``, verify it, install it, self-test it; returns the report."""
    from edgecxr import remote

    o = options
    host, remote_dir, install, python, runtime, model, kernels = (o.host, o.remote_dir, o.install, o.python,
                                                                  o.runtime, o.model, o.kernels)
    mode = INSTALL_MODES[install]
    the_run = Run.open(run, o.runs_root)
    folder = remote.check_remote_path(remote_dir or f"edgecxr/{the_run.name}")  # relative: in the user's home
    bundle = bundle_folder(the_run, model)
    target = remote.SSHTarget(host, port=o.port, identity=o.identity, config=o.ssh_config,
                              connect_timeout=o.connect_timeout)

    _check_python(target, python)
    hint_space = "check free space and permissions of the folder on the device (--remote-dir)"
    _check(remote.run(target, ["mkdir", "-p", folder], timeout=STEP_TIMEOUT), "creating " + folder, host, hint_space)
    with tempfile.TemporaryDirectory() as tmp:
        archive = _rpi_archive(bundle, Path(tmp))
        remote.copy_to(target, [archive], folder, timeout=STEP_TIMEOUT)
    _check(remote.run(target, ["tar", "-xzf", f"{folder}/{archive.name}", "-C", folder], timeout=STEP_TIMEOUT),
           "unpacking the bundle", host, hint_space)
    remote.run(target, ["rm", "-f", f"{folder}/{archive.name}"], timeout=STEP_TIMEOUT)

    expected = _expected_sums(bundle)
    out = _check(remote.run(target, ["sh", "-c", 'cd "$1" && shift && sha256sum -- "$@"', "sh", folder, *expected],
                            timeout=STEP_TIMEOUT), "checksumming the files", host, "the device needs coreutils' sha256sum")
    on_device = {name: digest for digest, name in (ln.split(None, 1) for ln in out.splitlines() if ln.strip())}
    bad = sorted(name for name, digest in expected.items() if on_device.get(name) != digest)
    if bad:
        raise DeviceError(f"{len(bad)} file(s) on {host} differ from the bundle manifest: {', '.join(bad[:3])}",
                          "check the device's storage and deploy again")

    if mode.install_args is not None:
        proc = remote.run(target, ["env", f"PYTHON={python}", "sh", f"{folder}/install.sh", *mode.install_args,
                                   "--no-selftest"], timeout=INSTALL_TIMEOUT)
        _check(proc, "installing the requirements (install.sh)", host,
               "read the pip error above; offline devices: --install none with a Python that has a TFLite runtime")
    runner_python = f"{folder}/.venv/bin/python" if mode.venv else python
    options = [*(["--runtime", runtime] if runtime else []), *(["--kernels", kernels] if kernels else [])]
    proc = remote.run(target, remote.reporting_signals([runner_python, f"{folder}/selftest.py", *options]),
                      timeout=STEP_TIMEOUT)
    try:
        selftest = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        _check(proc, "the self-test", host, f"check that {runner_python} works on the device (--python)")
        raise DeviceError(f"the self-test on {host} printed no result", "run selftest.py on the device by hand") from None
    report = {"host": host, "remote_dir": folder, "install": install, "python": runner_python,
              "files_verified": len(expected), "selftest": selftest}
    if not selftest.get("ok"):
        why = selftest.get("error") or (
            f"files changed: {', '.join(selftest['checksums_bad'][:3])}" if selftest.get("checksums_bad") else
            f"{selftest.get('images_differ')} of {selftest.get('images')} images differ from the expected bytes "
            f"({selftest.get('kernels')} kernels), by up to {selftest.get('max_step_difference')} int8 steps, "
            f"{selftest.get('labels_differ')} label(s) changed")
        raise DeviceError(f"the self-test on {host} failed: {why}",
                          f"run `{shlex.join([runner_python, f'{folder}/selftest.py', *options])}` on the device "
                          "for details")
    return report
