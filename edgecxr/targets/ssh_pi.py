"""Kind ``ssh-pi``: a Raspberry Pi (any Linux board) reached over SSH. bench runs the same runner
as the host there (edgecxr.bench.rpi); install copies the run's bundle, installs and self-tests
it (edgecxr.deploy, ``edgecxr deploy``)."""

from __future__ import annotations

from edgecxr.errors import ConfigError
from edgecxr.targets.result import BenchChoices, BenchResult, int8_choice


def bench(target, run, choices: BenchChoices | None = None) -> BenchResult:
    from edgecxr.bench.rpi import RpiOptions, bench_rpi
    from edgecxr.remote import SSHTarget

    c = choices or BenchChoices()
    if not c.host:
        raise ConfigError(f"--device {target.key} needs --host USER@HOST", "e.g. --host pi@raspberrypi.local")
    options = RpiOptions(c.runs, c.warmup, c.first("threads"), c.first("runtimes"), c.install, c.remote_python,
                         c.timeout, c.first("kernels"))
    report = bench_rpi(run, SSHTarget(c.host, c.port, c.identity, c.ssh_config), options)
    return BenchResult.of(target.kind, {**report, "device": target.key}, int8_choice(run))


def install(target, run, options) -> dict:
    """``options``: edgecxr.deploy.DeployOptions."""
    from edgecxr.deploy import deploy

    return deploy(run, options)
