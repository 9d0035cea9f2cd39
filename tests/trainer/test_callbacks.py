"""Callbacks in fit / evaluate / predict, and the progress bar's text."""

import csv
import io
import re
import sys

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.trainer import callbacks, layers, optimizers, progbar, random
from emberlite.trainer.callbacks import CallbackError


def blobs(n=32, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    return x, (x.sum(axis=1) > 0).astype(np.int32)


def model(learning_rate=0.1):
    random.set_random_seed(0)
    net = et.Sequential([layers.Dense(2, activation="softmax", input_shape=(3,))])
    net.compile(optimizers.SGD(learning_rate), "sparse_categorical_crossentropy", ["accuracy"])
    return net


class Scores(callbacks.Callback):
    """Put before the callback under test: logs values[epoch] as `key` at each epoch's end
    and keeps the model's weights then."""

    def __init__(self, values, key="score"):
        super().__init__()
        self.values, self.key, self.weights = values, key, []

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]
        self.weights.append(self.model.get_weights())


# -- the hooks -----------------------------------------------------------------------------------


class Recorder(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []


for _hook in callbacks.HOOKS:
    if not _hook.startswith("on_batch"):  # Keras 2's aliases of the train batch hooks

        def _record(self, *args, _hook=_hook):
            self.calls.append((_hook, *args))

        setattr(Recorder, _hook, _record)


def test_fit_evaluate_predict_call_the_hooks_in_order():
    x, y = blobs(8)
    recorder = Recorder()
    net = model()
    net.fit(x, y, batch_size=4, epochs=2, validation_data=(x, y), callbacks=[recorder], verbose=0)
    names = [call[0] for call in recorder.calls]
    epoch = [
        "on_epoch_begin",
        *["on_train_batch_begin", "on_train_batch_end"] * 2,
        "on_test_begin",
        *["on_test_batch_begin", "on_test_batch_end"] * 2,
        "on_test_end",
        "on_epoch_end",
    ]
    assert names == ["on_train_begin", *epoch, *epoch, "on_train_end"]
    assert recorder.model is net
    assert recorder.params == {"verbose": 0, "epochs": 2, "steps": 2, "do_validation": True}
    batch_logs = next(c for c in recorder.calls if c[0] == "on_train_batch_end")[2]
    assert set(batch_logs) == {"loss", "accuracy"}
    assert all(type(v) is float for v in batch_logs.values())
    epoch_end = [c for c in recorder.calls if c[0] == "on_epoch_end"]
    assert [c[1] for c in epoch_end] == [0, 1]
    assert set(epoch_end[0][2]) == {"loss", "accuracy", "val_loss", "val_accuracy"}

    recorder.calls.clear()
    net.evaluate(x, y, batch_size=8, callbacks=[recorder], verbose=0)
    net.predict(x, batch_size=8, callbacks=[recorder], verbose=0)
    names = [call[0] for call in recorder.calls]
    assert names == [
        "on_test_begin",
        "on_test_batch_begin",
        "on_test_batch_end",
        "on_test_end",
        "on_predict_begin",
        "on_predict_batch_begin",
        "on_predict_batch_end",
        "on_predict_end",
    ]
    outputs = recorder.calls[-2][2]["outputs"]
    np.testing.assert_array_equal(np.asarray(outputs), net.predict(x, verbose=0))


def test_history_and_lambda_callback():
    x, y = blobs()
    epochs = []
    batches = []
    hook = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: epochs.append((epoch, dict(logs))),
        on_batch_end=lambda batch, logs: batches.append(batch),  # Keras 2's name
    )
    net = model()
    history = net.fit(x, y, batch_size=16, epochs=3, initial_epoch=1, callbacks=[hook], verbose=0)
    assert history is net.history and history.epoch == [1, 2]
    assert [e for e, _ in epochs] == [1, 2] and batches == [0, 1, 0, 1]
    assert history.history == {k: [logs[k] for _, logs in epochs] for k in ("loss", "accuracy")}
    with pytest.raises(CallbackError, match="unknown hook.*on_epoch_finish"):
        callbacks.LambdaCallback(on_epoch_finish=print)
    with pytest.raises(
        CallbackError, match=r"callbacks\[0\] is a builtin_function_or_method, not a Callback"
    ):
        net.fit(x, y, callbacks=[print], verbose=0)


# -- EarlyStopping ---------------------------------------------------------------------------------


def test_early_stopping_stops_and_restores_the_best_weights(capsys):
    x, y = blobs()
    fake = Scores([3, 2, 2.5, 2.2, 1, 1])
    stop = callbacks.EarlyStopping(
        monitor="score", patience=2, restore_best_weights=True, verbose=1
    )
    net = model()
    history = net.fit(x, y, epochs=10, callbacks=[fake, stop], verbose=0)
    assert history.epoch == [0, 1, 2, 3]  # two epochs without beating 2
    assert stop.stopped_epoch == 3 and stop.best == 2 and stop.best_epoch == 1
    for restored, best in zip(net.get_weights(), fake.weights[1], strict=True):
        np.testing.assert_array_equal(restored, best)
    assert not np.array_equal(fake.weights[1][0], fake.weights[3][0])
    out = capsys.readouterr().out
    assert "Epoch 4: early stopping" in out
    assert "Restoring model weights from the end of the best epoch: 2." in out


def test_early_stopping_mode_min_delta_baseline_and_start_from_epoch():
    x, y = blobs(8)

    def epochs_run(values, key="score", **kwargs):
        stop = callbacks.EarlyStopping(monitor=key, **kwargs)
        fake = Scores(values, key)
        return len(model().fit(x, y, epochs=len(values), callbacks=[fake, stop], verbose=0).epoch)

    rising = [0.1, 0.2, 0.3, 0.4, 0.5]
    assert epochs_run(rising) == 2  # lower is better by default: stops at once (patience 0)
    assert epochs_run(rising, mode="max") == 5
    assert epochs_run(rising, key="val_accuracy") == 5  # "auto": accuracies go up
    assert epochs_run(rising, mode="max", min_delta=0.15) == 2  # 0.1 steps are too small
    # an improvement short of the baseline does not reset the wait (Keras)
    flat = [0.1, 0.2, 0.2, 0.2, 0.5]
    assert epochs_run(flat, mode="max", patience=3) == 5
    assert epochs_run(flat, mode="max", patience=3, baseline=0.35) == 3
    assert epochs_run([5, 6, 7, 8, 9, 10], start_from_epoch=3) == 5
    with pytest.raises(CallbackError, match="mode must be"):
        callbacks.EarlyStopping(mode="best")


def test_early_stopping_warns_about_a_missing_metric():
    x, y = blobs(8)
    with pytest.warns(UserWarning, match="'val_loss', which is not available"):
        model().fit(x, y, epochs=1, callbacks=[callbacks.EarlyStopping()], verbose=0)


# -- learning rates --------------------------------------------------------------------------------


def test_learning_rate_scheduler_sets_the_rate_the_steps_use():
    x, y = blobs()
    halving = callbacks.LearningRateScheduler(lambda epoch, lr: lr if epoch == 0 else lr / 2)
    history = model(0.1).fit(x, y, epochs=3, callbacks=[halving], verbose=0)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1, 0.05, 0.025], rtol=1e-6)

    net = model(0.1)
    before = net.get_weights()
    frozen = callbacks.LearningRateScheduler(lambda epoch: 0.0)  # the one-argument form
    net.fit(x, y, epochs=2, callbacks=[frozen], verbose=0)
    for a, b in zip(before, net.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(CallbackError, match="must return a number, got 'fast'"):
        net.fit(x, y, callbacks=[callbacks.LearningRateScheduler(lambda e: "fast")], verbose=0)


def test_reduce_lr_on_plateau_with_cooldown_and_min_lr(capsys):
    x, y = blobs(8)
    reduce = callbacks.ReduceLROnPlateau(
        monitor="score", factor=0.5, patience=2, cooldown=1, min_lr=0.02, verbose=1
    )
    history = model(0.1).fit(x, y, epochs=9, callbacks=[Scores([1.0] * 9), reduce], verbose=0)
    np.testing.assert_allclose(
        history.history["learning_rate"],
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02],
        rtol=1e-6,
    )
    assert "Epoch 3: ReduceLROnPlateau reducing learning rate to 0.05" in capsys.readouterr().out
    with pytest.raises(CallbackError, match="factor must be < 1.0"):
        callbacks.ReduceLROnPlateau(factor=2.0)


def test_reduce_lr_on_plateau_waits_while_improving():
    x, y = blobs(8)
    reduce = callbacks.ReduceLROnPlateau(monitor="score", patience=1, min_delta=0.1)
    values = [5.0, 4.0, 3.0, 2.95, 2.0]  # 2.95 improves by less than min_delta
    history = model(0.1).fit(x, y, epochs=5, callbacks=[Scores(values), reduce], verbose=0)
    np.testing.assert_allclose(history.history["learning_rate"], [0.1] * 4 + [0.01], rtol=1e-6)


# -- files -----------------------------------------------------------------------------------------


def test_csv_logger_writes_the_epoch_logs(tmp_path):
    x, y = blobs()
    path = tmp_path / "log.csv"
    net = model()
    first = net.fit(
        x, y, epochs=2, validation_data=(x, y), callbacks=[callbacks.CSVLogger(path)], verbose=0
    )
    second = net.fit(
        x, y, epochs=1, callbacks=[callbacks.CSVLogger(path, separator=";", append=True)], verbose=0
    )
    lines = path.read_text().splitlines()
    assert lines[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert len(lines) == 4  # no second header when appending
    rows = list(csv.DictReader(lines[:3]))
    for row, epoch in zip(rows, range(2), strict=True):
        assert int(row["epoch"]) == epoch
        for key in ("accuracy", "loss", "val_accuracy", "val_loss"):
            assert float(row[key]) == first.history[key][epoch]
    assert lines[3].split(";") == [
        "0",
        *map(str, (second.history[k][0] for k in ("accuracy", "loss"))),
    ]


def test_model_checkpoint_saves_the_best_weights_only(tmp_path):
    x, y = blobs()
    fake = Scores([3, 2, 2.5, 1])
    checkpoint = callbacks.ModelCheckpoint(
        tmp_path / "w{epoch:02d}-{score:.1f}.safetensors",
        monitor="score",
        save_best_only=True,
        save_weights_only=True,
    )
    net = model()
    net.fit(x, y, epochs=4, callbacks=[fake, checkpoint], verbose=0)
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == ["w01-3.0.safetensors", "w02-2.0.safetensors", "w04-1.0.safetensors"]
    other = model()
    other.load_weights(tmp_path / "w02-2.0.safetensors")
    for loaded, kept in zip(other.get_weights(), fake.weights[1], strict=True):
        np.testing.assert_array_equal(loaded, kept)


def test_model_checkpoint_saves_bundles_every_n_batches(tmp_path):
    x, y = blobs(12)
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "e{epoch}b{batch}", save_freq=2, verbose=1)
    net = model()
    net.fit(x, y, batch_size=4, epochs=2, callbacks=[checkpoint], verbose=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e1b2", "e2b1", "e2b3"]
    loaded = et.load(tmp_path / "e2b3")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), net.predict(x, verbose=0))
    with pytest.raises(CallbackError, match="names 'val_score'"):
        model().fit(
            x, y, callbacks=[callbacks.ModelCheckpoint(tmp_path / "{val_score}")], verbose=0
        )
    with pytest.raises(CallbackError, match="save_freq"):
        callbacks.ModelCheckpoint("x", save_freq=0)


# -- TerminateOnNaN --------------------------------------------------------------------------------


def test_terminate_on_nan_stops_at_the_first_bad_batch(capsys):
    x, y = blobs(16)
    x[9] = np.nan  # in the third batch of 4
    seen = []
    track = callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    history = model().fit(
        x,
        y,
        batch_size=4,
        epochs=3,
        shuffle=False,
        callbacks=[track, callbacks.TerminateOnNaN()],
        verbose=0,
    )
    assert seen == [0, 1, 2] and history.epoch == [0]
    assert "Batch 2: Invalid loss, terminating training" in capsys.readouterr().out


# -- the progress bar ------------------------------------------------------------------------------

NUMBER = r"\d+\.\d{4}"


def test_fit_verbose_2_prints_one_line_per_epoch(capsys):
    x, y = blobs()
    history = model().fit(x, y, batch_size=16, epochs=2, verbose=2)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    pattern = rf"2/2 - \d+s - \d+(us|ms|s)/step - accuracy: ({NUMBER}) - loss: ({NUMBER})"
    for line, epoch in ((lines[1], 0), (lines[3], 1)):
        match = re.fullmatch(pattern, line)
        assert match, line
        assert match[2] == f"{history.history['accuracy'][epoch]:.4f}"
        assert match[3] == f"{history.history['loss'][epoch]:.4f}"


def test_verbose_1_without_a_terminal_prints_bar_lines(capsys):
    x, y = blobs()
    net = model()
    history = net.fit(x, y, batch_size=8, epochs=1, verbose=1)
    last = capsys.readouterr().out.splitlines()[-1]
    match = re.fullmatch(
        rf"4/4 ━{{20}} \d+s \d+(us|ms|s)/step - accuracy: ({NUMBER}) - loss: ({NUMBER})", last
    )
    assert match, last
    # the logs are running means: shown as they are, not averaged again
    assert match[2] == f"{history.history['accuracy'][0]:.4f}"
    assert match[3] == f"{history.history['loss'][0]:.4f}"
    net.evaluate(x, y, batch_size=8, verbose=1)
    assert re.fullmatch(
        rf"4/4 ━{{20}} \d+s .* - loss: {NUMBER}", capsys.readouterr().out.splitlines()[-1]
    )
    net.predict(x, batch_size=32, verbose=1)
    assert re.fullmatch(r"1/1 ━{20} \d+s \d+(us|ms|s)/step", capsys.readouterr().out.strip())
    net.fit(x, y, epochs=2, verbose=0)
    net.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    assert progbar.resolve_verbose("auto") == 2  # captured output is not a terminal


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progbar_on_a_terminal_rewrites_one_coloured_line(monkeypatch):
    out = Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    bar = progbar.Progbar(4, interval=0.0, stateful_metrics=["loss"])
    bar.update(1, [("loss", 2.0), ("mae", 1.0)])
    bar.update(3, [("loss", 1.0), ("mae", 4.0)])
    bar.update(4, [("loss", 0.5), ("mae", 4.0)])
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    first, _, last = text[1:].split("\r")
    plain = re.sub(r"\x1b\[\d+m", "", first)
    assert plain.startswith("1/4 " + "━" * 5 + "─" * 15 + " ")
    assert "\x1b[32m━━━━━\x1b[0m" in first
    # "loss" is shown as given; "mae" is averaged over the steps it stood for: (1 + 4 + 4 * 2) / 4
    assert re.sub(r"\x1b\[\d+m", "", last).rstrip("\n").endswith("- loss: 0.5000 - mae: 3.2500")


def test_progbar_unknown_target_and_time_formats(capsys):
    bar = progbar.Progbar(None, interval=0.0)
    bar.update(3, [("loss", 0.0001)])
    assert capsys.readouterr().out.startswith("      3/Unknown ")
    bar.update(3, finalize=True)
    assert "loss: 1.0000e-04" in capsys.readouterr().out
    assert [progbar._duration(s) for s in (5, 65, 3725)] == ["5s", "1:05", "1:02:05"]
    assert progbar._per_step(0.02, "step") == " 20ms/step"
    assert progbar._per_step(2e-5, "sample") == " 20us/sample"
