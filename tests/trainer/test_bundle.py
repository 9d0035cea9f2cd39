"""Bundles: model.save / emberlite.trainer.load, atomic writes, and bad bundles."""

import json
import os
from pathlib import Path

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import layers
from emberlite.trainer.saving import bundle_files
from emberlite.trainer.saving.bundle_files import BundleError, read_bundle


def small_cnn():
    inputs = et.Input(shape=(8, 8, 1), name="image")
    x = layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = layers.BatchNormalization()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Flatten()(x)
    x = layers.Dropout(0.25)(x)
    outputs = layers.Dense(3, activation="softmax", name="probs")(x)
    return et.Model(inputs, outputs, name="cnn")


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8, 8, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.int32) + (x[:, 0, 0, 0] > 1).astype(np.int32)
    return x, y


def compiled(model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_saved_functional_model_predicts_bit_for_bit(tmp_path):
    model = small_cnn()
    x, _ = data()
    model.save(tmp_path / "b", labels=["a", "b", "c"], normalization={"mean": 0.5, "std": 2})
    loaded = et.load(tmp_path / "b")
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.bundle_labels == ["a", "b", "c"]
    assert loaded.bundle_normalization == {"mean": [0.5], "std": [2.0]}


def test_manifest_holds_signature_graph_variables_and_version(tmp_path):
    model = small_cnn()
    model.save(tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert manifest["format_version"] == bundle_files.FORMAT_VERSION
    serving = manifest["signatures"]["serving_default"]
    assert serving["inputs"] == [{"name": "image", "shape": [None, 8, 8, 1], "dtype": "float32"}]
    ops = [node["op"] for node in serving["nodes"]]
    assert "conv2d" in ops and "max_pool2d" in ops and "softmax" in ops
    assert not any(node["op"] == "assign" for node in serving["nodes"])
    # Dropout is not in the inference graph; BatchNormalization reads its moving statistics
    read = {ref["var"] for node in serving["nodes"] for ref in node["inputs"] if "var" in ref}
    assert {v.name for v in model.weights} == read
    assert serving["outputs"] and serving["output_names"] == ["output_0"]
    assert set(manifest["variables"]) == {v.name for v in model.weights}


def test_fit_continues_where_it_stopped(tmp_path):
    x, y = data(32)
    et.set_random_seed(1)
    straight = compiled(small_cnn())
    initial = straight.get_weights()
    straight.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)

    et.set_random_seed(1)
    first = compiled(small_cnn())
    first.set_weights(initial)
    first.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    first.save(tmp_path / "b")
    resumed = et.load(tmp_path / "b")
    assert int(resumed.optimizer.iterations) == 8
    resumed.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    # NOTE: dropout draws from the process generator, so both runs reseed it identically
    for a, b in zip(resumed.get_weights(), straight.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_sequential_and_config_less_subclassed_models(tmp_path):
    x, _ = data(4)
    seq = et.Sequential([layers.Flatten(input_shape=(8, 8, 1)), layers.Dense(2)])
    seq.save(tmp_path / "seq")
    np.testing.assert_array_equal(
        et.load(tmp_path / "seq").predict(x, verbose=0), seq.predict(x, verbose=0)
    )

    net = ConfiglessNet(4)
    expected = net(x).numpy()
    net.save(tmp_path / "net")
    loaded = et.load(tmp_path / "net")
    assert type(loaded).__name__ == "LoadedModel"
    np.testing.assert_array_equal(loaded(x).numpy(), expected)
    with et.GradientTape() as tape:
        loss = et.reduce_sum(loaded(x))
    grads = tape.gradient(loss, loaded.trainable_variables)
    assert all(g is not None for g in grads)


def test_weights_file_round_trip(tmp_path):
    a, b = small_cnn(), small_cnn()
    a.save_weights(tmp_path / "w.safetensors")
    b.load_weights(tmp_path / "w.safetensors")
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_array_equal(wa, wb)
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(BundleError, match="corrupt"):
        b.load_weights(tmp_path / "bad.safetensors")


def test_a_crash_mid_save_leaves_the_previous_bundle(tmp_path, monkeypatch):
    model = small_cnn()
    x, _ = data(4)
    model.save(tmp_path / "b")
    before = model.predict(x, verbose=0)
    for v in model.trainable_variables:
        v.assign(v.numpy() + 1)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(bundle_files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        model.save(tmp_path / "b")
    monkeypatch.undo()
    np.testing.assert_array_equal(et.load(tmp_path / "b").predict(x, verbose=0), before)
    model.save(tmp_path / "b")  # the next save cleans up the interrupted one's files
    names = sorted(p.name.split("-")[0] for p in (tmp_path / "b").iterdir())
    assert names == ["bundle.json", "constants", "variables"]


def test_bad_bundles_fail_with_clear_messages(tmp_path):
    model = small_cnn()
    path = model.save(tmp_path / "b")
    manifest_path = Path(path) / "bundle.json"
    manifest = json.loads(manifest_path.read_text())

    with pytest.raises(BundleError, match="no bundle.json"):
        et.load(tmp_path)
    newer = {**manifest, "format_version": "2.0"}
    manifest_path.write_text(json.dumps(newer))
    with pytest.raises(BundleError, match="newer than this emberlite reads"):
        et.load(path)
    missing = json.loads(json.dumps(manifest))
    missing["variables"]["cnn_missing/kernel"] = {
        "shape": [1],
        "dtype": "float32",
        "trainable": True,
    }
    manifest_path.write_text(json.dumps(missing))
    with pytest.raises(BundleError, match="'cnn_missing/kernel' is missing"):
        et.load(path)
    manifest_path.write_text(json.dumps(manifest))
    weights = Path(path) / manifest["files"]["variables"]
    weights.write_bytes(weights.read_bytes()[: os.path.getsize(weights) // 2])
    with pytest.raises(BundleError, match="corrupt"):
        et.load(path)
    manifest_path.write_text("{")
    with pytest.raises(BundleError, match="not valid JSON"):
        read_bundle(path)


def test_save_refuses_a_foreign_directory_and_unbuilt_models(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not empty and is not a bundle"):
        small_cnn().save(tmp_path)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    with pytest.raises(EmberliteError, match="before it is built"):
        et.Sequential([layers.Dense(2)]).save(tmp_path / "x")


def _mutations():
    """Damage to bundle.json: a key removed or its value replaced by a value of another kind."""
    from hypothesis import strategies as st

    junk = st.one_of(
        st.none(),
        st.integers(-3, 3),
        st.text(max_size=6),
        st.lists(st.integers(-2, 2), max_size=3),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        st.just("../../outside"),
    )
    return st.tuples(st.integers(0, 10_000), st.booleans(), junk)


class ConfiglessNet(et.Model):
    """Saved without a config: it loads as its serving graph."""

    def __init__(self, width):
        super().__init__()
        self.flat = layers.Flatten()
        self.dense = layers.Dense(width)

    def call(self, inputs, training=False):
        return et.nn.softmax(self.dense(self.flat(inputs))[:, 1:])


@pytest.fixture(scope="module", params=["config", "graph"])
def saved_bundle(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("fuzz") / "b"
    x, y = data(8)
    if request.param == "config":
        model = compiled(small_cnn())
        model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    else:
        model = ConfiglessNet(3)
        model(x)
    model.save(path, labels=["a", "b", "c"])
    return path


def _paths(node, prefix=()):
    """Every (path of keys) inside a JSON value."""
    yield prefix
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, value in items:
        yield from _paths(value, (*prefix, key))


def _load_damaged(saved, workdir, path, value, delete):
    """Load a copy of `saved` whose bundle.json has the entry at `path` deleted or replaced;
    only an EmberliteError may come out."""
    import shutil

    manifest = json.loads((saved / "bundle.json").read_text())
    *parents, last = path
    holder = manifest
    for key in parents:
        holder = holder[key]
    if delete and isinstance(holder, dict):
        del holder[last]
    else:
        holder[last] = value
    copy = workdir / "copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(saved, copy)
    (copy / "bundle.json").write_text(json.dumps(manifest))
    try:
        et.load(copy).predict(data(2)[0], verbose=0)
    except EmberliteError:
        pass  # a clear error; anything else (KeyError, TypeError, ...) fails the test


def _manifest_paths(saved):
    return [p for p in _paths(json.loads((saved / "bundle.json").read_text())) if p]


def test_fuzzed_manifests_fail_as_bundle_errors(saved_bundle, tmp_path):
    from hypothesis import HealthCheck, given, settings

    paths = _manifest_paths(saved_bundle)

    @settings(
        max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(_mutations())
    def damage(mutation):
        index, delete, value = mutation
        _load_damaged(saved_bundle, tmp_path, paths[index % len(paths)], value, delete)

    damage()


@pytest.mark.slow
@pytest.mark.parametrize("value", [None, 7, "x", [1], {"a": 1}, "../../outside"])
def test_every_manifest_entry_damaged(saved_bundle, tmp_path, value):
    for path in _manifest_paths(saved_bundle):
        _load_damaged(saved_bundle, tmp_path, path, value, delete=False)
        _load_damaged(saved_bundle, tmp_path, path, value, delete=True)


def every_layer_model():
    image = et.Input(shape=(8, 8, 3), name="image")
    x = layers.ZeroPadding2D(1)(image)
    x = layers.Conv2D(4, 3, strides=2, activation="relu6")(x)
    x = layers.DepthwiseConv2D(3, padding="same")(x)
    x = layers.SeparableConv2D(6, 3, padding="same")(x)
    x = layers.BatchNormalization()(x)
    x = layers.Conv2DTranspose(4, 3, strides=2, padding="same")(x)
    a = layers.AveragePooling2D()(x)
    b = layers.MaxPooling2D()(x)
    x = layers.Concatenate()([layers.Add()([a, b]), layers.Multiply()([a, b])])
    x = layers.UpSampling2D(interpolation="bilinear")(x)
    x = layers.Cropping2D(1)(x)
    pooled = layers.GlobalAveragePooling2D()(x)
    peak = layers.GlobalMaxPooling2D()(x)
    x = layers.Concatenate()([pooled, peak])
    x = layers.Dense(8)(x)
    x = layers.LeakyReLU()(layers.PReLU()(x))
    x = layers.Reshape((2, 4))(x)
    x = layers.Flatten()(layers.Permute((2, 1))(x))
    tokens = et.Input(shape=(5,), dtype="int32", name="tokens")
    e = layers.Flatten()(layers.Embedding(10, 2)(tokens))
    x = layers.Concatenate()([x, e])
    outputs = layers.Softmax()(layers.Dense(3)(layers.Dropout(0.5)(x)))
    return et.Model([image, tokens], outputs)


def test_serving_graph_replays_every_layer_at_any_batch_size(tmp_path):
    from emberlite.trainer.graph import Graph

    model = every_layer_model()
    path = model.save(tmp_path / "b")
    bundle = read_bundle(path)
    prefix = "serving_default/"
    constants = {k[len(prefix) :]: v for k, v in bundle.constants.items()}
    graph = Graph.from_json(
        bundle.signatures["serving_default"],
        constants,
        {v.name: v for v in model.weights},
    )
    assert [s.shape for s in graph.inputs] == [(None, 8, 8, 3), (None, 5)]
    rng = np.random.default_rng(0)
    for batch in (1, 3):
        images = rng.normal(size=(batch, 8, 8, 3)).astype(np.float32)
        tokens = rng.integers(0, 10, (batch, 5)).astype(np.int32)
        (replayed,) = graph.run([et.constant(images), et.constant(tokens)])
        np.testing.assert_array_equal(replayed.numpy(), model.predict([images, tokens], verbose=0))
    loaded = et.load(path)
    images, tokens = rng.normal(size=(2, 8, 8, 3)).astype(np.float32), np.ones((2, 5), np.int32)
    np.testing.assert_array_equal(
        loaded.predict([images, tokens], verbose=0), model.predict([images, tokens], verbose=0)
    )
