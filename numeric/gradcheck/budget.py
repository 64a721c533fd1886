"""Size guards: estimate what a verification will cost before starting it, and refuse what cannot finish.

`bptt verify rnn --T 100000` was killed by the kernel at 24 GB with no message: every entry of xs (T·D·B of
them) is a perturbed copy of a T-step forward pass. The estimate here is deliberately simple — the work
and peak memory of the per-entry oracles, the parts that grow with T² — and errs high.
"""

from __future__ import annotations

from dataclasses import dataclass


#: refuse beyond these (override with --force): a few GB, and about ten minutes of the shared machine
MAX_BYTES = 4 * 2 ** 30
MAX_FLOPS = 2e11
#: evaluations per entry of each per-entry oracle (the stencil)
STENCIL = {"complex-step": 1, "central": 2, "richardson": 4}


@dataclass(frozen=True)
class Estimate:
    """Peak bytes and floating-point operations of a verification."""

    bytes: float
    flops: float

    def refusal(self, max_bytes: float = MAX_BYTES, max_flops: float = MAX_FLOPS) -> str | None:
        """A one-line reason to refuse, or None when it fits."""
        over = []
        if self.bytes > max_bytes:
            over.append(f"~{_size(self.bytes)} of memory (limit {_size(max_bytes)})")
        if self.flops > max_flops:
            over.append(f"~{self.flops:.0e} operations (~{self.flops / 1e9 / 60:.0f} min at 1 Gflop/s; "
                        f"limit {max_flops:.0e})")
        return None if not over else "this verification would need " + " and ".join(over)


def verification_estimate(param_shapes: dict[str, tuple[int, int]], D: int, T: int, B: int, state_rows: int,
                          oracles=("complex-step", "central", "richardson"), max_columns: int = 8192) -> Estimate:
    """Estimate the per-entry oracles' cost: every entry of every parameter, of xs (T·D·B) and of the initial
    states is one perturbed forward pass of T steps per stencil point, run side by side in chunks of up to
    ``max_columns`` batch columns, each chunk keeping every step's quantities (complex, 16 bytes).

    Args:
        param_shapes: the model's parameter shapes; D, T, B: sizes; state_rows: rows of all initial states.
        oracles: the per-entry oracles that will run.
    """
    entries = sum(r * c for r, c in param_shapes.values()) + T * D * B + state_rows * B
    evaluations = entries * sum(STENCIL.get(o, 1) for o in oracles)
    rows = sum(r for r, _ in param_shapes.values()) + D  # every product's output, per step and column
    columns = min(max_columns, evaluations * B)
    # Measured (rnn, D=3 H=4 K=3 B=2): peak RSS 160 MB at T = 100, 380 MB at T = 200, 950 MB at T = 400;
    # this gives 260, 520, 1050 MB
    peak = T * columns * rows * 16
    flops = 2.0 * evaluations * B * T * sum(r * c for r, c in param_shapes.values())
    return Estimate(float(peak), flops)


def _size(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.0f} {unit}"
        n /= 1024
    return f"{n:.0f} TB"


__all__ = ["Estimate", "MAX_BYTES", "MAX_FLOPS", "verification_estimate"]
