"""What every target's bench takes and returns: ``BenchChoices`` (every choice a bench can be
given; each kind reads those that apply to it) and ``BenchResult`` (one type for every kind:
rows of measurements, or a verdict with none), following the stage convention of
edgecxr.stages: ``bench(target, run, choices) -> BenchResult``, whose ``to_dict()`` is what
``--json`` prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class BenchChoices:
    runs: int = 100
    warmup: int = 10
    threads: list[int] | None = None  # None: the target's default
    runtimes: list[str] | None = None  # None: every installed one
    kernels: list[str] | None = None  # kernel families (Pis) or kernel sets (emulated boards)
    data: Path | None = None  # folder of images; None: the target's default inputs
    timeout: float = 600  # seconds one benchmark run may take
    host: str | None = None  # ssh-pi: [USER@]HOST
    port: int | None = None
    identity: Path | None = None
    ssh_config: Path | None = None
    remote_python: str = "python3"
    install: bool = False  # ssh-pi: pip-install a runtime when the device has none
    tflm: Path | None = None  # emulated boards: a TFLM tree, beside edgecxr's own engine
    images: int = 50  # emulated boards: how many images the firmware classifies
    layers: bool = False  # emulated boards: instructions per layer

    def __post_init__(self):
        from edgecxr.checks import check_number

        for name in ("runs", "warmup", "timeout", "port"):
            check_number(name, getattr(self, name), f"--{name}")
        for t in self.threads or []:
            check_number("threads", t, "--threads")
        check_number("images", self.images, "--images")

    def first(self, name: str):
        """The first of a repeatable choice (a Pi runs one runtime, thread count, family), or None."""
        return (getattr(self, name) or [None])[0]


@dataclass
class BenchResult:
    device: str  # the target's key
    kind: str  # the target's kind (edgecxr.targets.table.KINDS)
    facts: dict = field(default_factory=dict)  # what the kind reports beside its rows (board, note, verdict, ...)
    results: list[dict] | None = None  # one row per measurement; None: a verdict, which has no rows
    machine: dict | None = None  # where it ran (cpu, cores, python, ...), when a machine ran it
    int8_model: dict | None = None  # a run's int8 model (edgecxr.artifacts.Int8Choice), when a run was given

    @classmethod
    def of(cls, kind: str, report: dict, choice=None) -> BenchResult:
        """A kind's report (a dict with "device" and maybe "machine" and "results") as the one type."""
        facts = dict(report)
        return cls(facts.pop("device"), kind, facts, facts.pop("results", None), facts.pop("machine", None),
                   choice.to_dict() if choice else None)

    def to_dict(self) -> dict:
        optional = {"machine": self.machine, "results": self.results, "int8_model": self.int8_model}
        return {"device": self.device, **self.facts, **{k: v for k, v in optional.items() if v is not None}}


def int8_choice(run):
    """A run directory's int8 model (edgecxr.artifacts.choose_int8: the one export ships), or
    None when ``run`` is a .tflite file or a folder without int8 models."""
    from edgecxr.artifacts import INT8
    from edgecxr.runs import Run

    path = Path(run)
    if not path.is_dir() or not any((path / a.file).is_file() for a in INT8):
        return None
    return Run(path).int8()
