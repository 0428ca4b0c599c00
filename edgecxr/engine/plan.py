"""plan: where every activation tensor lives in ONE static arena.

    lifetimes   a tensor lives from the operator that writes it to the last one that reads it
    in place    an operator whose kernel can overwrite its input (1x1 convolutions walked in the
                right direction, depthwise convolutions with a line buffer, elementwise ops)
                shares the input's memory when that input dies there; RESHAPE is an alias
    scratch     the working memory a kernel asks for (column / line buffers), live for one op;
                it goes in the unused tail of the operator's output buffer when it fits there
                (a buffer shared in place is as large as its largest tensor, so the smaller
                tensors of later layers leave room), else in a buffer of its own. A kernel's
                faster variant with a larger scratch is chosen only where that scratch fits
                in such a tail, so it never grows the arena
    offsets     greedy by size: largest buffer first, at the lowest offset that overlaps no
                buffer alive at the same time (aligned to 8 bytes)

The model's input and output are the caller's buffers (``edgecxr_invoke(input, output)``),
so they take no arena. ``Plan.table()`` prints each buffer's offset and size, the peak and the
operator that sets it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edgecxr.engine.kernels import Kernel
from edgecxr.engine.parse import Graph

ALIGN = 8


@dataclass
class Buffer:
    name: str
    tensors: list[int]
    size: int
    first: int  # operator index that writes it first
    last: int  # operator index that reads it last
    offset: int = -1

    def live(self, i: int) -> bool:
        return self.first <= i <= self.last


@dataclass
class Plan:
    arena: int
    buffers: list[Buffer]
    tensor_offset: dict[int, int]  # arena tensors -> byte offset
    scratch_offset: dict[int, int]  # operator index -> offset of its scratch
    inplace: set[int]  # operators that overwrite their input
    fast: set[int]  # operators that run their kernel's faster variant (its scratch fits in a tail)
    peak_op: int  # the operator at which the arena is fullest
    largest_tensor: int  # bytes of the largest activation tensor (input and output included)
    tails: list[Buffer] = field(default_factory=list)  # scratch inside another buffer's unused tail

    def table(self, graph: Graph, kernels: list[Kernel]) -> str:
        """The printable plan: one row per buffer, then the peak and the operator that sets it."""
        rows = [f"{'offset':>8} {'bytes':>8}  {'live ops':>9}  buffer"]
        for b in sorted(self.buffers + self.tails, key=lambda b: (b.offset, b.first)):
            rows.append(f"{b.offset:>8} {b.size:>8}  {b.first:>4}-{b.last:<4}  {b.name}")
        op = graph.operators[self.peak_op]
        live = sum(b.size for b in self.buffers if b.live(self.peak_op))
        rows.append(f"arena {self.arena} B; peak at operator {self.peak_op} ({op.code}"
                    f"{', ' + kernels[self.peak_op].note if kernels[self.peak_op].note else ''}), "
                    f"{live} B live there; largest tensor {self.largest_tensor} B")
        return "\n".join(rows)


def _align(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def make_plan(graph: Graph, kernels: list[Kernel]) -> Plan:
    external = set(graph.inputs) | set(graph.outputs)
    last_read: dict[int, int] = {}
    for i, k in enumerate(kernels):
        for t in k.reads:
            last_read[t] = i
    group: dict[int, Buffer] = {}
    buffers: list[Buffer] = []
    inplace: set[int] = set()
    scratch: dict[int, Buffer] = {}
    for i, k in enumerate(kernels):
        out = k.writes
        if out in external:
            pass
        elif k.alias and k.reads[0] in group:
            b = group[k.reads[0]]
            b.tensors.append(out)
            b.size = max(b.size, graph.tensors[out].nbytes)
            group[out] = b
        elif (k.inplace_input is not None and k.inplace_input in group
              and max(last_read.get(t, -1) for t in group[k.inplace_input].tensors) == i):
            b = group[k.inplace_input]
            b.tensors.append(out)
            b.size = max(b.size, graph.tensors[out].nbytes)
            group[out] = b
            inplace.add(i)
        else:
            b = Buffer(graph.tensors[out].name or f"tensor {out}", [out], graph.tensors[out].nbytes, i, i)
            buffers.append(b)
            group[out] = b
    for b in buffers:
        if b.tensors:
            b.last = max([b.first] + [last_read.get(t, b.first) for t in b.tensors])
            b.name = " = ".join(graph.tensors[t].name or f"tensor {t}" for t in b.tensors[:1]) + (
                f" (+{len(b.tensors) - 1} in place)" if len(b.tensors) > 1 else "")
    writer = {k.writes: i for i, k in enumerate(kernels)}
    fast: set[int] = set()
    scratch_size: dict[int, int] = {}
    tails: dict[int, tuple[Buffer, int]] = {}  # operator -> (the buffer whose tail holds its scratch, offset in it)
    for i, k in enumerate(kernels):
        host = group.get(k.writes)
        used = _align(max(graph.tensors[t].nbytes for t in host.tensors
                          if writer[t] <= i <= max(writer[t], last_read.get(t, -1)))) if host else 0
        free = host.size - used if host else 0
        need = k.scratch(i in inplace)
        if k.fast is not None and k.fast_scratch(i in inplace) <= free:
            fast.add(i)
            need = k.fast_scratch(i in inplace)
        scratch_size[i] = need
        if need and need <= free:
            tails[i] = (host, used)
        elif need:
            scratch[i] = Buffer(f"scratch of operator {i} ({k.op.code})", [], need, i, i)
            buffers.append(scratch[i])
    placed: list[Buffer] = []
    for b in sorted(buffers, key=lambda b: (-b.size, b.first)):
        offset = 0
        for other in sorted((o for o in placed if o.first <= b.last and b.first <= o.last), key=lambda o: o.offset):
            if offset + b.size <= other.offset:
                break
            offset = max(offset, _align(other.offset + other.size))
        b.offset = offset
        placed.append(b)
    arena = max((b.offset + b.size for b in buffers), default=0)
    ends = [max((b.offset + b.size for b in buffers if b.live(i)), default=0) for i in range(len(kernels))]
    peak = max(range(len(kernels)), key=lambda i: (ends[i], -i)) if kernels else 0
    largest = max((graph.tensors[t].nbytes for k in kernels for t in (*k.reads, k.writes)), default=0)
    inner = [Buffer(f"scratch of operator {i} ({kernels[i].op.code}{', its fast variant' if i in fast else ''}), "
                    f"in the unused tail of the buffer at {host.offset}", [],
                    scratch_size[i], i, i, host.offset + used) for i, (host, used) in tails.items()]
    return Plan(_align(arena), buffers, {t: b.offset for t, b in group.items()},
                {**{i: b.offset for i, b in scratch.items()}, **{b.first: b.offset for b in inner}},
                inplace, fast, peak, largest, inner)
