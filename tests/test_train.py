"""Training: target masks, optimizers, clipping, initialisation, corpora, tasks and the `bptt train` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from numeric import models
from numeric.gradcheck.objective import LoopObjective
from numeric.gradcheck.oracles import numerical_gradients

# ---- target masks: a target of −1 contributes no loss term (hand-written and generated models) ----------

MASKED_MODELS = ["rnn", "jordan", "lstm", "lstm-peephole", "gru", "gru-reset-after"]


def _masked_point(name: str, seed: int = 0):
    m = models.get(name)
    rng = np.random.default_rng(seed)
    params = m.init_params(3, 4, 5, rng=rng)
    xs = rng.standard_normal((6, 3, 2))
    targets = rng.integers(0, 5, (6, 2))
    targets[[0, 2, 3], 0] = -1  # masked steps in column 0, and the last step of column 1
    targets[5, 1] = -1
    return m, params, xs, targets


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_masked_gradients_agree_with_complex_step(name):
    m, params, xs, targets = _masked_point(name)
    E, grads = m.loss_and_grads(params, xs, targets)
    names = [*params, "xs"]
    estimate = numerical_gradients(LoopObjective(m.loss, params, xs, targets, {}), names, "complex-step")
    for k in names:
        np.testing.assert_allclose(grads[k], estimate[k], rtol=1e-9, atol=1e-12, err_msg=k)


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_masked_loss_is_the_sum_over_unmasked_steps(name):
    """E with a mask equals the unmasked per-step losses summed where the target is not −1."""
    m, params, xs, targets = _masked_point(name)
    full = np.where(targets < 0, 0, targets)
    # E_t per (t, b): the loss of the prefix up to t minus the prefix up to t − 1, by column
    per_step = np.zeros(targets.shape)
    for t in range(targets.shape[0]):
        for b in range(targets.shape[1]):
            keep = np.full(targets.shape, -1)
            keep[t, b] = full[t, b]
            per_step[t, b] = m.loss(params, xs, keep)
    np.testing.assert_allclose(m.loss(params, xs, targets), per_step[targets >= 0].sum(), rtol=1e-13)
    assert m.loss(params, xs, np.full(targets.shape, -1)) == 0


@pytest.mark.parametrize("name", MASKED_MODELS)
def test_generated_module_masks_like_the_hand_written_model(name):
    from derive.codegen import generate

    gen = generate(name).module
    m, params, xs, targets = _masked_point(name, seed=3)
    for truncate in (None, 2):
        E1, g1 = gen.loss_and_grads(params, xs, targets, truncate=truncate)
        E2, g2 = m.loss_and_grads(params, xs, targets, truncate=truncate)
        assert abs(E1 - E2) <= 1e-12 * abs(E2)
        for k in g2:
            np.testing.assert_allclose(g1[k], g2[k], rtol=1e-11, atol=1e-14, err_msg=k)


def test_targets_below_minus_one_are_rejected():
    from derive.codegen import generate

    m, params, xs, targets = _masked_point("rnn")
    targets[1, 1] = -2
    with pytest.raises(ValueError, match=r"or −1 \(no loss term\), got -2"):
        m.loss(params, xs, targets)
    with pytest.raises(ValueError, match=r"or -1 \(no loss term\), got -2"):
        generate("rnn").module.loss(params, xs, targets)


# ---- optimizers and clipping ---------------------------------------------------------------------------

from numeric.training import corpus, optim, tasks  # noqa: E402
from numeric.training.init import initialise, orthogonal, scale_recurrent, xavier  # noqa: E402


def test_adam_and_rmsprop_first_steps_by_hand():
    """Adam's first step is −lr·g/(|g| + ε) (bias correction); RMSProp's is −lr·g/(√(0.1 g²) + ε)."""
    g = np.array([[0.5, -2.0, 1e-3]])
    for name, expected in (("adam", -0.1 * g / (np.abs(g) + 1e-8)), ("rmsprop", -0.1 * g / (np.sqrt(0.1 * g * g) + 1e-8)),
                           ("sgd", -0.1 * g), ("momentum", -0.1 * g)):
        theta = {"V": np.zeros_like(g)}
        optim.Optimizer(name, 0.1).step(theta, {"V": g})
        np.testing.assert_allclose(theta["V"], expected, rtol=1e-6, err_msg=name)
    theta = {"V": np.zeros_like(g)}
    o = optim.Optimizer("momentum", 0.1)
    o.step(theta, {"V": g})
    o.step(theta, {"V": g})  # v = 0.9 g + g
    np.testing.assert_allclose(theta["V"], -0.1 * g - 0.1 * 1.9 * g)


def test_clipping_norm_keeps_direction_value_does_not():
    rng = np.random.default_rng(0)
    grads = {"U": rng.standard_normal((3, 4)) * 10, "V": rng.standard_normal((4, 4))}
    before = {k: v.copy() for k, v in grads.items()}
    assert optim.clip_norm(grads, 1.0)
    assert optim.global_norm(grads) == pytest.approx(1.0)
    ratio = grads["U"] / before["U"]
    np.testing.assert_allclose(ratio, ratio.flat[0])  # one common factor: direction kept
    assert not optim.clip_norm(grads, 2.0)  # already below: untouched
    grads = {k: v.copy() for k, v in before.items()}
    assert optim.clip_value(grads, 0.5)
    assert max(np.abs(g).max() for g in grads.values()) == 0.5


@pytest.mark.parametrize("bad, message", [(("adagrad", 0.1), "expected one of sgd"), (("sgd", 0.0), "positive")])
def test_optimizer_bad_input(bad, message):
    with pytest.raises(ValueError, match=message):
        optim.Optimizer(*bad)


# ---- initialisation --------------------------------------------------------------------------------------

def test_initialisation_schemes():
    rng = np.random.default_rng(0)
    shapes = {"U_f": (6, 3), "V_f": (6, 6), "b_f": (6, 1), "b_i": (6, 1), "p_f": (6, 1), "W": (4, 6)}
    roles = dict(recurrent={"V_f"}, biases={"b_f", "b_i"}, forget_biases={"b_f"}, forget_bias=1.5)
    p = initialise(shapes, "orthogonal", rng, **roles)
    np.testing.assert_allclose(p["V_f"].T @ p["V_f"], np.eye(6), atol=1e-12)
    assert np.abs(p["U_f"]).max() <= np.sqrt(6 / 9)
    assert (p["b_f"] == 1.5).all() and (p["b_i"] == 0).all() and (p["p_f"] == 0).all()
    normal = initialise({"V": (400, 400)}, "normal", rng, recurrent={"V"}, biases=())
    assert normal["V"].std() == pytest.approx(0.01, rel=0.02)
    big = xavier((300, 500), rng)
    assert np.abs(big).max() <= np.sqrt(6 / 800) and big.std() == pytest.approx(np.sqrt(2 / 800), rel=0.02)
    scaled = scale_recurrent({"V": orthogonal((5, 5), rng)}, {"V"}, radius=0.5)
    assert np.abs(np.linalg.eigvals(scaled["V"])).max() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="expected one of xavier"):
        initialise(shapes, "he", rng, **roles)


# ---- corpus, batches, tasks --------------------------------------------------------------------------------

def test_arithmetic_corpus_lines_are_true():
    text = corpus.arithmetic_corpus(n_lines=300, seed=4)
    lines = text.splitlines()
    assert len(lines) == 300 and any(line.count("(") >= 2 for line in lines)
    for line in lines:
        expression, value = line.split("=")
        assert set(expression) <= set("0123456789+-*()")
        assert eval(expression) == int(value), line  # our own digits and operators only


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), (b"", "at least 2 characters"), (b"ab\0cd", "binary file"),
    (b"caf\xe9", "invalid byte 0xe9 at offset 3"),
])
def test_read_text_errors(tmp_path, content, message):
    path = tmp_path / "data.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        corpus.read_text(path)


def test_stream_batches_continue_each_stream():
    ids = np.arange(1000)
    batches = corpus.StreamBatches(ids, batch=4, seq_len=10)
    x1, y1, r1 = batches.next()
    x2, y2, r2 = batches.next()
    assert r1 and not r2
    np.testing.assert_array_equal(y1, x1 + 1)  # targets: the next characters
    np.testing.assert_array_equal(x2[0], x1[-1] + 1)  # chunk 2 of each stream follows chunk 1
    assert len(set(x1[0])) == 4  # four different streams
    with pytest.raises(ValueError, match="too short"):
        corpus.StreamBatches(np.arange(30), batch=4, seq_len=10)


@pytest.mark.parametrize("task", tasks.TASKS)
@pytest.mark.parametrize("lag", [1, 12])
def test_tasks_mask_all_but_the_answer_and_keep_the_lag(task, lag):
    b = tasks.make_batch(task, lag, 64, np.random.default_rng(lag))
    D, K = tasks.sizes(task)
    T = b.xs.shape[0]
    assert b.xs.shape == (T, D, 64) and b.targets.shape == (T, 64)
    answered = np.nonzero((b.targets >= 0).any(axis=1))[0]
    assert b.targets[b.targets >= 0].max() < K
    if task == "copy":
        assert list(answered) == list(range(T - 3, T))
        np.testing.assert_array_equal(b.xs[:3].argmax(axis=1), b.targets[-3:])
        assert T - 3 - 2 >= lag  # the last symbol is ≥ lag steps before its answer
    else:
        assert list(answered) == [T - 1]
        relevant = (b.xs[:, 10] > 0) if task == "adding" else (b.xs[:, 4:].sum(axis=1) > 0)
        assert (relevant.sum(axis=0) == 2).all()
        assert (T - 1 - np.nonzero(relevant)[0]).min() >= lag
        if task == "adding":
            digits = b.xs[:, :10].argmax(axis=1)
            np.testing.assert_array_equal((digits * relevant).sum(axis=0), b.targets[-1])
        else:
            order = b.xs[:, 4:].argmax(axis=1)  # 0: X, 1: Y at the relevant steps
            pos = [np.nonzero(relevant[:, j])[0] for j in range(64)]
            expected = [2 * order[p[0], j] + order[p[1], j] for j, p in enumerate(pos)]
            np.testing.assert_array_equal(b.targets[-1], expected)


# ---- the generated code in the training loop -----------------------------------------------------------------

def test_state_carried_across_chunks_equals_one_long_forward():
    from reports.recurrence import load_recurrence

    rec = load_recurrence("lstm")
    rng = np.random.default_rng(0)
    params = rec.module.init_params(3, 5, 4, rng=rng)
    xs = rng.standard_normal((12, 3, 2))
    targets = rng.integers(0, 4, (12, 2))
    zero = rec.zero_states(3, 5, 4, 2)
    E1, _, mid = rec.loss_and_grads(params, xs[:7], targets[:7], zero)
    E2, _, end = rec.loss_and_grads(params, xs[7:], targets[7:], mid)
    E, grads, final = rec.loss_and_grads(params, xs, targets, zero)
    assert E1 + E2 == pytest.approx(E, rel=1e-13)
    for name in final:
        np.testing.assert_allclose(end[name], final[name], rtol=1e-13)
    E_ref, grads_ref = models.get("lstm").loss_and_grads(params, xs, targets)  # hand-written model
    np.testing.assert_allclose(grads["V_f"], grads_ref["V_f"], rtol=1e-11)


def _tiny(optimizer="adam", **kw):
    from reports.recurrence import load_recurrence
    from reports.training_run import Settings, train_language_model

    text = corpus.arithmetic_corpus(n_lines=300)
    settings = dict(optimizer=optimizer, hidden=16, batch=8, seq_len=20, steps=150)
    settings.update(kw)
    return train_language_model(load_recurrence("rnn"), text, Settings(**settings), sample_chars=0)


def test_tiny_language_model_learns_below_the_unigram_entropy():
    r = _tiny()
    assert r.history.diverged_at is None
    assert r.numbers["final_loss"] < 0.75 * r.numbers["unigram_entropy"], r.numbers
    assert r.history.tokens == 150 * 8 * 20 and r.numbers["tokens_per_second"] > 0


def test_norm_clipping_keeps_a_diverging_sgd_run_finite():
    """At lr 5 plain SGD's loss explodes (> 10× the first loss); clipping the norm at 0.1 trains."""
    unclipped = _tiny("sgd", lr=5.0, steps=100, hidden=32)
    clipped = _tiny("sgd", lr=5.0, steps=100, hidden=32, clip_norm=0.1)
    assert unclipped.history.diverged_at is not None
    assert clipped.history.diverged_at is None
    assert clipped.numbers["final_loss"] < clipped.numbers["unigram_entropy"]
    assert any(clipped.history.clipped)


def test_train_task_reports_accuracy_and_chance():
    from reports.recurrence import load_recurrence
    from reports.training_run import Settings, train_task

    r = train_task(load_recurrence("gru"), "temporal-order", 3, Settings(hidden=8, batch=16, steps=40),
                   eval_batch=200)
    assert r.numbers["chance"] == 0.25 and 0 <= r.numbers["accuracy"] <= 1
    assert r.numbers["solved"] == (r.numbers["accuracy"] >= 0.9)


# ---- the command ----------------------------------------------------------------------------------------------

def test_cli_train_writes_curves_checkpoint_history_and_sample(tmp_path, capsys):
    from reports.cli import main

    data = tmp_path / "text.txt"
    data.write_text("the cat sat on the mat. " * 40, encoding="utf-8")
    out = tmp_path / "run"
    code = main(["train", "gru", "--data", str(data), "--hidden", "8", "--batch", "4", "--seq-len", "10",
                 "--steps", "20", "--sample", "30", "--out", str(out), "--clip-value", "1",
                 "--checkpoint-every", "8"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "tokens/s" in text and "unigram entropy" in text and "sample:" in text
    doc = json.loads((out / "history.json").read_text())
    assert len(doc["history"]["loss"]) == 20 and doc["settings"]["clip_value"] == 1.0
    with np.load(out / "checkpoint.npz") as ckpt:
        assert ckpt["V_g"].shape == (8, 8) and json.loads(str(ckpt["settings"]))["hidden"] == 8
    assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in out.glob("checkpoint-*.npz")) == ["checkpoint-16.npz", "checkpoint-8.npz"]
    assert len((out / "sample.txt").read_text(encoding="utf-8")) == 30


@pytest.mark.parametrize("argv, message", [
    (["train", "rnn", "--data", "/nonexistent.txt"], "no such file"),
    (["train", "rnn", "--task", "copy", "--data", "x.txt"], "expected one of them"),
    (["train", "jordan", "--steps", "1"], "carries the hidden state h"),
    (["train", "nosuch.cell"], "nosuch.cell"),
    (["train", "rnn", "--checkpoint-every", "5"], "expected --out DIR"),
])
def test_cli_train_unusable_input(argv, message, capsys):
    from reports.cli import main

    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_rmsprop_and_adam_beat_sgd_at_equal_steps():
    """LSTM, H 32, 300 steps, each optimizer at its default learning rate (docs/flow.md has the full-size run)."""
    from reports.recurrence import load_recurrence
    from reports.training_run import Settings, train_language_model

    text = corpus.arithmetic_corpus(n_lines=1000)
    final = {}
    for name in ("sgd", "rmsprop", "adam"):
        r = train_language_model(load_recurrence("lstm"), text, Settings(optimizer=name, hidden=32, batch=16,
                                                                         seq_len=25, steps=300), sample_chars=0)
        final[name] = r.numbers["final_loss"]
    assert final["rmsprop"] < final["sgd"] and final["adam"] < final["sgd"], final
