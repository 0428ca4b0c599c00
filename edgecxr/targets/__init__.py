"""Where a model runs: the target table (``table``: rows of boards.toml, each of a kind) and one
module per kind with that kind's interface, each function called as ``fn(target, run, options)``:

    host          bench                        this computer
    ssh_pi        bench, install               a Raspberry Pi over SSH
    emulated_pi   bench                        a Raspberry Pi under qemu-user
    emulated_mcu  fit, bench, build, flash     a Cortex-M board under QEMU (bare-metal firmware)
    mcu           fit, bench, flash            a physical microcontroller board (arduino-cli)

Every bench returns ``result.BenchResult``. Commands look a target up
(``table.get_target(key, path, job=...)``) and call ``target.call(job, run, options)``. This
package's own import loads nothing: lower modules (bench, firmware) read the table.
"""
