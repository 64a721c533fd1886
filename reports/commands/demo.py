"""`bptt demo`: the toolkit on the course's Elman RNN, end to end."""

from __future__ import annotations

from rich.console import Console
from rich.rule import Rule
from rich.syntax import Syntax

from reports.exits import EXIT_FAILED, EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="the course's RNN end to end: derivation, generated code, verification, a checked student file",
                       description="Run the toolkit on its built-in default, the course's Elman RNN.")
    p.set_defaults(run=run)


def run(args) -> int:
    from numeric.gradcheck.verify import verify
    from reports.derivation_text import course_view
    from reports.verification import VerificationView

    console = Console()
    # a rule cuts a long title at the terminal's edge: the equations go on their own (wrapping) line
    console.print(Rule("bptt demo · the course's Elman RNN"))
    console.print("h_t = tanh(U x_t + V h_{t−1} + b),  ô_t = softmax(W h_t + c)", justify="center", highlight=False)
    console.print("The course's derivation of BPTT for E₃, derived by SymPy from the cell's equations "
                  "(all of it: bptt derive rnn):\n")
    console.print(course_view(brief=True))

    console.print(Rule("Generating the gradient code"))
    from reports.codegen_verify import demo_excerpt

    excerpt, generated = demo_excerpt("rnn")
    console.print("The derivation's adjoint program printed as NumPy (the BPTT loop of `bptt codegen rnn`; "
                  "each statement under the equation it implements):\n")
    console.print(Syntax(excerpt, "python", theme="ansi_dark", background_color="default"))

    console.print(Rule("Verifying the gradients"))
    console.print("The generated code against the hand-written NumPy model, the complex step and central "
                  "differences, entry by entry:\n")
    console.print(VerificationView(generated, title="generated rnn"))
    console.print("\nThe hand-written model against three numerical oracles and along random directions:\n")
    result = verify("rnn", D=3, H=4, K=3, T=3, B=2)
    console.print(VerificationView(result, title="hand-written rnn"))

    from numeric.checking import demo_check, demo_submission
    from reports.check_report import CheckReportView

    console.print(Rule("Checking a student's backprop"))
    console.print(f"A shipped CS231n-style submission with one planted mistake ({demo_submission().name}), "
                  "run in a sandboxed process and compared with the verified reference:\n")
    report = demo_check()
    console.print(CheckReportView(report))
    # The demo passes when the toolkit is right: the reference verifies and the planted mistake is named.
    named = any(d.mistake == "dh-next-not-added" for t in report.tests for d in t.diagnosis[:1])
    return EXIT_OK if result.passed and generated.passed and named else EXIT_FAILED
