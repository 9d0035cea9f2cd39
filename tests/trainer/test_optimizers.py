"""Optimizers: trajectories against NumPy re-implementations of Keras's update formulas and
against torch.optim, clipping, learning rates, minimize, state, config, loss scaling."""

import json

import numpy as np
import pytest

import emberlite.trainer as et
from emberlite.errors import EmberliteError
from emberlite.trainer import optimizers
from emberlite.trainer.optimizers import LossScaleOptimizer, OptimizerError, schedules

# Two variables; loss = sum(0.5 * a * (w - c)**2 + 0.1 * w**3) per variable.
PROBLEM = [
    (
        np.array([[0.1, -0.4, 0.7], [1.2, -0.3, 0.05]]),
        np.array([[1.0, 0.5, 2.0], [0.3, 1.5, 0.8]]),
        0.5,
    ),
    (np.array([0.5, -1.5]), np.array([2.0, 0.7]), -0.2),
]


def gradient(w, a, c):
    return a * (w - c) + 0.3 * w**2


# -- NumPy references: Keras's formulas with Keras's defaults (step -> amount to subtract) -----


def sgd_step(g, s, t, lr, momentum=0.0, nesterov=False):
    if not momentum:
        return lr * g
    s["m"] = momentum * s.get("m", 0.0) - lr * g
    return lr * g - momentum * s["m"] if nesterov else -s["m"]


def adam_step(g, s, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False):
    s["m"] = s.get("m", 0.0) + (g - s.get("m", 0.0)) * (1 - beta_1)
    s["v"] = s.get("v", 0.0) + (g**2 - s.get("v", 0.0)) * (1 - beta_2)
    v = s["v"]
    if amsgrad:
        v = s["vhat"] = np.maximum(s.get("vhat", 0.0), v)
    return s["m"] * (lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)) / (np.sqrt(v) + epsilon)


def rmsprop_step(g, s, t, lr, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False):
    s["rms"] = rho * s.get("rms", 0.0) + (1 - rho) * g**2
    denominator = s["rms"] + epsilon  # Keras: epsilon inside the square root
    if centered:
        s["mg"] = rho * s.get("mg", 0.0) + (1 - rho) * g
        denominator = denominator - s["mg"] ** 2
    increment = lr * g / np.sqrt(denominator)
    if not momentum:
        return increment
    s["mom"] = momentum * s.get("mom", 0.0) + increment
    return s["mom"]


def adagrad_step(g, s, t, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    s["acc"] = s.get("acc", initial_accumulator_value) + g**2
    return lr * g / np.sqrt(s["acc"] + epsilon)


# class name -> (reference, Keras's default learning rate, default weight decay)
REFERENCES = {
    "SGD": (sgd_step, 0.01, None),
    "Adam": (adam_step, 0.001, None),
    "AdamW": (adam_step, 0.001, 0.004),
    "RMSprop": (rmsprop_step, 0.001, None),
    "Adagrad": (adagrad_step, 0.001, None),
}


def reference(name, kwargs, steps):
    step_fn, lr, wd = REFERENCES[name]
    kwargs = dict(kwargs)
    lr = float(np.float32(kwargs.pop("learning_rate", lr)))  # the rate lives in a float32
    wd = kwargs.pop("weight_decay", wd)
    ws, states, out = [w.copy() for w, _, _ in PROBLEM], [{} for _ in PROBLEM], []
    for t in range(1, steps + 1):
        for i, (_, a, c) in enumerate(PROBLEM):
            g = gradient(ws[i], a, c)
            if wd:
                ws[i] = ws[i] - ws[i] * wd * lr
            ws[i] = ws[i] - step_fn(g, states[i], t, lr, **kwargs)
        out.append([w.copy() for w in ws])
    return out


def make_variables(dtype=np.float64):
    return [et.Variable(w.astype(dtype), name=f"w{i}") for i, (w, _, _) in enumerate(PROBLEM)]


def gradients(variables):
    return [
        gradient(v.numpy().astype(np.float64), a, c).astype(v.dtype)
        for v, (_, a, c) in zip(variables, PROBLEM, strict=True)
    ]


def run(optimizer, steps, dtype=np.float64, apply=None):
    """The trajectory of `steps` steps; `apply(grads, variables)` defaults to
    apply_gradients."""
    variables = make_variables(dtype)
    apply = apply or (lambda grads, vs: optimizer.apply_gradients(zip(grads, vs, strict=True)))
    out = []
    for _ in range(steps):
        apply([et.constant(g) for g in gradients(variables)], variables)
        out.append([v.numpy() for v in variables])
    return out


def assert_trajectories_close(got, expected, rtol, atol=0.0):
    for step, (g, e) in enumerate(zip(got, expected, strict=True)):
        for gv, ev in zip(g, e, strict=True):
            np.testing.assert_allclose(gv, ev, rtol=rtol, atol=atol, err_msg=f"step {step + 1}")


CASES = [
    ("SGD", {}),
    ("SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}),
    ("SGD", {"learning_rate": 0.05, "weight_decay": 0.1}),
    ("Adam", {"learning_rate": 0.05}),
    ("Adam", {"learning_rate": 0.05, "amsgrad": True, "beta_2": 0.9}),
    ("AdamW", {"learning_rate": 0.05}),
    ("RMSprop", {}),
    ("RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}),
    ("Adagrad", {"learning_rate": 0.1}),
    ("Adagrad", {"initial_accumulator_value": 0.5, "epsilon": 1e-3}),
]


@pytest.mark.parametrize(("name", "kwargs"), CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_trajectory_matches_keras_formulas(name, kwargs):
    optimizer = getattr(optimizers, name)(**kwargs)
    assert_trajectories_close(run(optimizer, 6), reference(name, kwargs, 6), rtol=1e-12)


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_float32_variables_follow_the_float64_trajectory(name):
    kwargs = {"learning_rate": 0.05, "momentum": 0.9} if name == "SGD" else {"learning_rate": 0.05}
    optimizer = getattr(optimizers, name)(**kwargs)
    got = run(optimizer, 6, np.float32)
    assert all(w.dtype == np.float32 for w in got[-1])
    assert all(s.dtype == np.float32 for s in optimizer.variables[2:])
    assert_trajectories_close(got, reference(name, kwargs, 6), rtol=1e-5, atol=1e-5)


def test_float16_variables_update_in_their_dtype_with_float32_slots():
    optimizer = optimizers.Adam(0.05)
    got = run(optimizer, 4, np.float16)
    # the same steps in float32, each new value rounded to float16
    ws, states = [w.astype(np.float16) for w, _, _ in PROBLEM], [{}, {}]
    for t in range(1, 5):
        for i, (_, a, c) in enumerate(PROBLEM):
            g = gradient(ws[i].astype(np.float64), a, c).astype(np.float16).astype(np.float32)
            step = adam_step(g, states[i], t, np.float32(0.05))
            ws[i] = (ws[i].astype(np.float32) - step).astype(np.float16)
    for gv, ev in zip(got[-1], ws, strict=True):
        assert gv.dtype == np.float16
        np.testing.assert_allclose(gv, ev, rtol=2e-3)
    slots = optimizer.variables[2:]
    assert [s.dtype for s in slots] == [np.float32] * 4


# -- torch.optim, where its formulas are Keras's (eps 0: torch adds eps outside the sqrt) ----

TORCH_CASES = [
    ("SGD", {"momentum": 0.9}, "SGD", {"momentum": 0.9}),
    ("SGD", {"momentum": 0.9, "nesterov": True}, "SGD", {"momentum": 0.9, "nesterov": True}),
    ("Adam", {"epsilon": 0.0}, "Adam", {"eps": 0.0}),
    ("Adam", {"epsilon": 0.0, "amsgrad": True}, "Adam", {"eps": 0.0, "amsgrad": True}),
    ("AdamW", {"epsilon": 0.0, "weight_decay": 0.1}, "AdamW", {"eps": 0.0, "weight_decay": 0.1}),
    ("RMSprop", {"epsilon": 0.0}, "RMSprop", {"alpha": 0.9, "eps": 0.0}),
    (
        "RMSprop",
        {"epsilon": 0.0, "momentum": 0.5, "centered": True},
        "RMSprop",
        {"alpha": 0.9, "eps": 0.0, "momentum": 0.5, "centered": True},
    ),
    ("Adagrad", {"epsilon": 0.0}, "Adagrad", {"eps": 0.0, "initial_accumulator_value": 0.1}),
]


@pytest.mark.parametrize(
    ("name", "kwargs", "torch_name", "torch_kwargs"),
    TORCH_CASES,
    ids=[f"{c[0]}-{c[1]}" for c in TORCH_CASES],
)
def test_trajectory_matches_torch(name, kwargs, torch_name, torch_kwargs):
    torch = pytest.importorskip("torch")
    lr = 0.05
    params = [torch.tensor(w, dtype=torch.float64, requires_grad=True) for w, _, _ in PROBLEM]
    opt = getattr(torch.optim, torch_name)(params, lr=float(np.float32(lr)), **torch_kwargs)
    expected = []
    for _ in range(6):
        opt.zero_grad()
        loss = sum(
            (0.5 * torch.tensor(a) * (p - c) ** 2 + 0.1 * p**3).sum()
            for p, (_, a, c) in zip(params, PROBLEM, strict=True)
        )
        loss.backward()
        opt.step()
        expected.append([p.detach().numpy().copy() for p in params])
    got = run(getattr(optimizers, name)(learning_rate=lr, **kwargs), 6)
    assert_trajectories_close(got, expected, rtol=1e-9)


def test_mlp_trained_with_minimize_matches_torch_adam():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    w1, b1, w2 = rng.normal(size=(3, 4)), np.zeros(4), rng.normal(size=(4, 1))
    ours = [et.Variable(v, name=n) for v, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"))]
    theirs = [torch.tensor(v, requires_grad=True) for v in (w1, b1, w2)]
    opt = optimizers.Adam(0.05, epsilon=0.0)
    topt = torch.optim.Adam(theirs, lr=float(np.float32(0.05)), eps=0.0)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(5):
        with et.GradientTape() as tape:
            hidden = et.tanh(et.matmul(et.constant(x), ours[0]) + ours[1])
            loss = et.reduce_mean(et.square(et.matmul(hidden, ours[2]) - y))
        opt.minimize(loss, ours, tape=tape)
        topt.zero_grad()
        ((torch.tanh(xt @ theirs[0] + theirs[1]) @ theirs[2] - yt) ** 2).mean().backward()
        topt.step()
    for v, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(v.numpy(), t.detach().numpy(), rtol=1e-9)


# -- clipping and gradient transformers ------------------------------------------------------


def sgd_deltas(grads, **kwargs):
    """What one SGD step with learning rate 1 subtracts from zero variables, per gradient."""
    variables = [et.Variable(np.zeros_like(g), name=f"v{i}") for i, g in enumerate(grads)]
    optimizers.SGD(1.0, **kwargs).apply_gradients(zip(grads, variables, strict=True))
    return [-v.numpy() for v in variables]


GRADS = [np.array([3.0, 4.0]), np.array([[0.0, 12.0]]), np.array([0.1, -0.2])]


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"clipnorm": 1.0}, [[0.6, 0.8], [[0.0, 1.0]], [0.1, -0.2]]),  # each tensor on its own
        # the norm of all three together is sqrt(25 + 144 + 0.05)
        ({"global_clipnorm": 6.5}, [g * 6.5 / np.sqrt(169.05) for g in GRADS]),
        ({"clipvalue": 0.15}, [[0.15, 0.15], [[0.0, 0.15]], [0.1, -0.15]]),
    ],
)
def test_clipping(kwargs, expected):
    for got, want in zip(sgd_deltas(GRADS, **kwargs), expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_clipping_leaves_small_gradients_alone():
    for kwargs in ({"clipnorm": 20.0}, {"global_clipnorm": 100.0}, {"clipvalue": 20.0}):
        for got, g in zip(sgd_deltas(GRADS, **kwargs), GRADS, strict=True):
            np.testing.assert_allclose(got, g, rtol=1e-12)


def test_gradient_transformers_run_after_clipping_in_order():
    seen = []

    def record_then_double(pairs):
        seen.append([g.numpy().copy() for g, _ in pairs])
        return [(g * 2.0, v) for g, v in pairs]

    def add_one(pairs):
        return [(g + 1.0, v) for g, v in pairs]

    deltas = sgd_deltas(
        GRADS[:1], clipnorm=1.0, gradient_transformers=[record_then_double, add_one]
    )
    np.testing.assert_allclose(seen[0][0], [0.6, 0.8])
    np.testing.assert_allclose(deltas[0], [2.2, 2.6])


def test_only_one_kind_of_clipping():
    with pytest.raises(OptimizerError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        optimizers.Adam(clipnorm=1.0, clipvalue=0.5)
    with pytest.raises(OptimizerError, match="clipnorm must be > 0"):
        optimizers.Adam(clipnorm=-1.0)


# -- weight decay ----------------------------------------------------------------------------


def test_weight_decay_exclusions():
    kernel = et.Variable(np.ones(2), name="dense/kernel")
    bias = et.Variable(np.ones(2), name="dense/bias")
    other = et.Variable(np.ones(2), name="other")
    opt = optimizers.SGD(0.5, weight_decay=0.1)
    opt.exclude_from_weight_decay(var_list=[other], var_names=["bias"])
    opt.apply_gradients((np.zeros(2), v) for v in (kernel, bias, other))
    np.testing.assert_allclose(kernel.numpy(), [0.95, 0.95])
    np.testing.assert_allclose(bias.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(other.numpy(), [1.0, 1.0])
    with pytest.raises(OptimizerError, match="before the optimizer is built"):
        opt.exclude_from_weight_decay(var_names=["kernel"])


# -- learning rates --------------------------------------------------------------------------


def test_learning_rate_set_between_steps_takes_effect_eagerly_and_traced():
    for traced in (False, True):
        w = et.Variable(np.array([1.0, 2.0]), name="w")
        opt = optimizers.SGD(0.5)

        def step(g, opt=opt, w=w):
            opt.apply_gradients([(g, w)])

        step = et.function(step) if traced else step
        g = et.constant(np.array([1.0, 1.0]))
        step(g)
        opt.learning_rate = 0.25
        step(g)
        opt.learning_rate = np.float32(0.125)
        step(g)
        np.testing.assert_allclose(w.numpy(), [1.0 - 0.875, 2.0 - 0.875])
        assert float(opt.learning_rate) == 0.125
        assert isinstance(opt.learning_rate, et.Variable)
        if traced:
            assert step.experimental_get_tracing_count() == 1


def test_schedule_gives_each_step_its_rate_and_cannot_be_set():
    opt = optimizers.SGD(schedules.PiecewiseConstantDecay([1, 2], [0.5, 0.25, 0.125]))
    w = et.Variable(np.zeros(1), name="w")

    @et.function
    def step():
        opt.apply_gradients([(np.ones(1), w)])

    rates = []
    for _ in range(4):
        rates.append(float(opt.learning_rate))
        step()
    assert rates == [0.5, 0.5, 0.25, 0.125]
    np.testing.assert_allclose(w.numpy(), [-1.375])
    assert [v.name for v in opt.variables] == ["SGD/iterations"]
    with pytest.raises(OptimizerError, match="PiecewiseConstantDecay schedule, so it cannot"):
        opt.learning_rate = 0.1


def test_bad_learning_rates():
    with pytest.raises(OptimizerError, match="learning_rate must be a number"):
        optimizers.Adam("0.1")
    opt = optimizers.Adam()
    with pytest.raises(OptimizerError, match="only be given to the constructor"):
        opt.learning_rate = schedules.ExponentialDecay(0.1, 10, 0.5)


# -- minimize --------------------------------------------------------------------------------


def test_minimize_with_a_callable_and_with_a_tape():
    w = et.Variable(np.array([1.0, -2.0]), name="w")
    frozen = et.Variable(np.array([3.0]), trainable=False, name="frozen")  # watched: in var_list
    opt = optimizers.SGD(0.1)
    opt.minimize(lambda: et.reduce_sum(w * w * w) + et.reduce_sum(frozen * frozen), [w, frozen])
    np.testing.assert_allclose(w.numpy(), [1.0 - 0.3, -2.0 - 1.2])
    np.testing.assert_allclose(frozen.numpy(), [3.0 - 0.6])
    with et.GradientTape() as tape:
        loss = et.reduce_sum(w * w)
    before = w.numpy().copy()
    opt.minimize(loss, lambda: [w], tape=tape)
    np.testing.assert_allclose(w.numpy(), before - 0.2 * before)
    assert int(opt.iterations) == 2


def test_minimize_a_tensor_needs_the_tape():
    w = et.Variable(np.ones(2), name="w")
    with pytest.raises(OptimizerError, match="minimize needs tape="):
        optimizers.SGD().minimize(et.reduce_sum(w * w), [w])


# -- state -----------------------------------------------------------------------------------


def test_build_creates_named_slots_in_variable_order_without_stepping():
    kernel = et.Variable(np.ones((2, 3), np.float32), name="dense/kernel")
    bias = et.Variable(np.ones(3, np.float32), name="dense/bias")
    opt = optimizers.Adam(amsgrad=True)
    opt.build([kernel, bias])
    names = [v.name for v in opt.variables]
    assert names == [
        "adam/iterations",
        "adam/learning_rate",
        "adam/m/dense/kernel",
        "adam/v/dense/kernel",
        "adam/vhat/dense/kernel",
        "adam/m/dense/bias",
        "adam/v/dense/bias",
        "adam/vhat/dense/bias",
    ]
    assert opt.iterations.dtype == np.int64 and int(opt.iterations) == 0
    assert not any(v.trainable for v in opt.variables)
    assert opt.get_slot(kernel, "v").shape == (2, 3)
    assert all(not v.numpy().any() for v in opt.variables[2:])
    again = et.Variable(np.ones(1, np.float32), name="dense/bias")  # a second of that name
    opt.build([bias, again])
    assert [v.name for v in opt.variables[8:]] == [
        "adam/m/dense/bias_1",
        "adam/v/dense/bias_1",
        "adam/vhat/dense/bias_1",
    ]
    assert len({v.name for v in opt.variables}) == len(opt.variables)


def test_slot_initial_values_and_per_option_slots():
    w = et.Variable(np.ones(2, np.float32), name="w")
    cases = [
        (optimizers.Adagrad(initial_accumulator_value=0.25), {"accumulator": 0.25}),
        (optimizers.SGD(), {}),
        (optimizers.SGD(momentum=0.5), {"momentum": 0.0}),
        (optimizers.RMSprop(momentum=0.5, centered=True), {"rms": 0, "momentum": 0, "mg": 0}),
    ]
    for opt, slots in cases:
        opt.build([w])
        assert [v.name for v in opt.variables[2:]] == [f"{opt.name}/{s}/w" for s in slots]
        for slot, value in slots.items():
            np.testing.assert_array_equal(opt.get_slot(w, slot).numpy(), [value, value])
    with pytest.raises(OptimizerError, match="no slot 'momentum' for variable 'w'"):
        optimizers.SGD().get_slot(w, "momentum")


def test_none_gradients_are_skipped():
    a, b = et.Variable(np.ones(2), name="a"), et.Variable(np.ones(2), name="b")
    opt = optimizers.SGD(0.5)
    opt.apply_gradients([(None, a), (np.ones(2), b)])
    np.testing.assert_array_equal(a.numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(b.numpy(), [0.5, 0.5])
    opt.apply_gradients([(None, a), (None, b)])
    assert int(opt.iterations) == 1


def test_traced_steps_match_eager_steps():
    eager = run(optimizers.Adam(0.05, amsgrad=True), 5)
    opt = optimizers.Adam(0.05, amsgrad=True)

    @et.function
    def step(g0, g1, w0, w1):
        opt.apply_gradients([(g0, w0), (g1, w1)])

    traced = run(opt, 5, apply=lambda grads, vs: step(*grads, *vs))
    assert step.experimental_get_tracing_count() == 1
    assert_trajectories_close(traced, eager, rtol=0)


def test_bad_updates_name_what_is_wrong():
    w = et.Variable(np.ones(2), name="w")
    opt = optimizers.Adam()
    with pytest.raises(OptimizerError, match="adam: got 1 gradients for 2 variables"):
        opt.apply([np.ones(2)], [w, w])
    with pytest.raises(OptimizerError, match="only update Variables, got a Tensor at position 1"):
        opt.apply_gradients([(np.ones(2), w), (np.ones(2), et.constant([1.0, 2.0]))])
    with pytest.raises(OptimizerError, match="only update Variables, got a Tensor at position 0"):
        opt.build([et.constant(1.0)])
    with pytest.raises(OptimizerError, match=r"gradient for variable 'w' has shape \[3\]"):
        opt.apply_gradients([(np.ones(3), w)])
    with pytest.raises(OptimizerError, match="variable 'n' of dtype int32"):
        opt.apply_gradients([(np.ones(2), et.Variable([1, 2], name="n"))])
    with pytest.raises(
        OptimizerError, match="takes \\(gradient, variable\\) pairs, got a Variable"
    ):
        opt.apply_gradients([w])
    with pytest.raises(OptimizerError, match=r"SGD: momentum must be a float in \[0, 1\]"):
        optimizers.SGD(momentum=1.5)
    with pytest.raises(OptimizerError, match="adamw: weight_decay must be a float"):
        optimizers.AdamW(weight_decay=None)
    assert issubclass(OptimizerError, EmberliteError)


# -- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("identifier", "cls", "defaults"),
    [
        ("adam", optimizers.Adam, {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
                                   "epsilon": 1e-7, "amsgrad": False, "name": "adam"}),
        ("AdamW", optimizers.AdamW, {"learning_rate": 0.001, "weight_decay": 0.004}),
        ("sgd", optimizers.SGD, {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False,
                                 "name": "SGD"}),
        ("RMSprop", optimizers.RMSprop, {"learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
                                         "epsilon": 1e-7, "centered": False}),
        ("adagrad", optimizers.Adagrad, {"learning_rate": 0.001,
                                         "initial_accumulator_value": 0.1, "epsilon": 1e-7}),
    ],
)  # fmt: skip
def test_get_by_name_has_keras_defaults(identifier, cls, defaults):
    opt = optimizers.get(identifier)
    assert type(opt) is cls
    config = opt.get_config()
    assert {k: config[k] for k in defaults} == defaults
    assert config["weight_decay"] == defaults.get("weight_decay")
    assert config["clipnorm"] is config["clipvalue"] is config["global_clipnorm"] is None


OPTIMIZERS = [
    lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True, clipnorm=1.0, name="sgd_a"),
    lambda: optimizers.Adam(
        schedules.CosineDecay(0.1, 100, alpha=0.1, warmup_target=0.2, warmup_steps=10),
        amsgrad=True,
        global_clipnorm=2.0,
    ),
    lambda: optimizers.AdamW(0.01, weight_decay=0.05, beta_1=0.8, clipvalue=0.5),
    lambda: optimizers.RMSprop(
        schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001]), centered=True
    ),
    lambda: optimizers.Adagrad(0.2, initial_accumulator_value=0.3, epsilon=1e-6),
    lambda: LossScaleOptimizer(
        optimizers.Adam(0.002), initial_scale=256.0, dynamic_growth_steps=10, name="lso"
    ),
]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_config_round_trip(make):
    opt = make()
    data = json.loads(json.dumps(optimizers.serialize(opt)))
    clone = optimizers.deserialize(data)
    assert type(clone) is type(opt)
    assert clone.get_config() == opt.get_config()
    assert type(optimizers.get(data)) is type(opt)
    assert float(clone.learning_rate) == float(opt.learning_rate)


def test_config_keeps_the_current_learning_rate():
    opt = optimizers.SGD(0.1)
    opt.learning_rate = 0.05
    assert optimizers.SGD.from_config(opt.get_config()).get_config()["learning_rate"] == 0.05


def test_get_passes_optimizers_and_refuses_the_rest():
    opt = optimizers.SGD()
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    with pytest.raises(EmberliteError, match="unknown optimizer 'adamax'"):
        optimizers.get("adamax")
    with pytest.raises(OptimizerError, match="cannot interpret 42 as an optimizer"):
        optimizers.get(42)
    with pytest.raises(OptimizerError, match="as an optimizer"):
        optimizers.deserialize(schedules.serialize(schedules.ExponentialDecay(0.1, 10, 0.5)))


# -- loss scaling ----------------------------------------------------------------------------


def lso_pair(**kwargs):
    """A LossScaleOptimizer over Adam, a plain Adam, and a variable for each."""
    lso = LossScaleOptimizer(optimizers.Adam(0.05), **kwargs)
    return (
        lso,
        optimizers.Adam(0.05),
        et.Variable(np.ones(3), name="w"),
        et.Variable(np.ones(3), name="w"),
    )


def state(opt, w):
    return [w.numpy().copy()] + [v.numpy().copy() for v in opt.variables]


def test_finite_steps_equal_the_unscaled_optimizer():
    lso, plain, w, w_plain = lso_pair(initial_scale=1024.0)
    for g in ([1.0, -2.0, 0.5], [0.3, 0.1, -0.7], [2.0, 2.0, -1.0]):
        g = np.array(g)
        lso.apply_gradients([(g * float(lso.loss_scale), w)])
        plain.apply_gradients([(g, w_plain)])
    assert_trajectories_close([state(lso.inner_optimizer, w)], [state(plain, w_plain)], rtol=0)
    assert int(lso.iterations) == 3 and float(lso.dynamic_scale) == 1024.0


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_a_non_finite_gradient_skips_the_step_and_halves_the_scale(bad):
    lso, _, w, _ = lso_pair(initial_scale=1024.0)
    lso.apply_gradients([(np.array([1.0, 2.0, 3.0]), w)])
    lso.apply_gradients([(np.array([1.0, 2.0, 3.0]), w)])
    assert int(lso.step_counter) == 2
    before = state(lso.inner_optimizer, w)
    lso.apply_gradients([(np.array([1.0, bad, 3.0]), w)])
    assert_trajectories_close([state(lso.inner_optimizer, w)], [before], rtol=0)
    assert float(lso.dynamic_scale) == 512.0 and int(lso.step_counter) == 0
    assert int(lso.iterations) == 2


def test_the_scale_doubles_after_growth_steps_and_stays_at_least_one():
    lso, _, w, _ = lso_pair(initial_scale=2.0, dynamic_growth_steps=3)
    scales = []
    for g in [1.0, 1.0, 1.0, 1.0, np.inf, np.inf, np.inf, 1.0]:
        lso.apply_gradients([(np.full(3, g), w)])
        scales.append(float(lso.dynamic_scale))
    assert scales == [2.0, 2.0, 4.0, 4.0, 2.0, 1.0, 1.0, 1.0]
    assert int(lso.iterations) == 5


def test_loss_scaling_in_a_traced_step_matches_eager():
    grads = [
        [1.0, 2.0, 3.0],
        [np.inf, 0.0, 1.0],
        [0.5, 0.5, 0.5],
        [1.0, np.nan, 1.0],
        [1.0, 1.0, 1.0],
    ]
    results = []
    for traced in (False, True):
        lso, _, w, _ = lso_pair(initial_scale=8.0, dynamic_growth_steps=2)

        def step(g, lso=lso, w=w):
            lso.apply_gradients([(g, w)])

        step = et.function(step) if traced else step
        for g in grads:
            step(et.constant(np.array(g)))
        results.append(state(lso, w))
        if traced:
            assert step.experimental_get_tracing_count() == 1
    assert_trajectories_close([results[1]], [results[0]], rtol=0)
    scale, counter, iterations = results[0][1:4]
    assert (scale, counter, iterations) == (2.0, 1, 3)  # two steps skipped, none grew


def test_fixed_scale():
    lso, plain, w, w_plain = lso_pair(dynamic=False, initial_scale=4.0)
    for _ in range(3):
        lso.apply_gradients([(np.array([4.0, 8.0, -4.0]), w)])
        plain.apply_gradients([(np.array([1.0, 2.0, -1.0]), w_plain)])
    np.testing.assert_array_equal(w.numpy(), w_plain.numpy())
    assert float(lso.dynamic_scale) == 4.0 and int(lso.step_counter) == 0


def test_scaled_loss_unscaled_gradients_and_minimize():
    lso, plain, w, w_plain = lso_pair(initial_scale=64.0)
    assert float(lso.scale_loss(et.constant(1.5))) == 96.0
    assert float(lso.get_scaled_loss(lambda: et.constant(0.5))()) == 32.0
    unscaled = lso.get_unscaled_gradients([et.constant([64.0, 128.0]), None])
    np.testing.assert_array_equal(unscaled[0].numpy(), [1.0, 2.0])
    assert unscaled[1] is None
    lso.minimize(lambda: et.reduce_sum(w * w), [w])  # the loss is scaled, the gradient not
    plain.minimize(lambda: et.reduce_sum(w_plain * w_plain), [w_plain])
    np.testing.assert_array_equal(w.numpy(), w_plain.numpy())


def test_loss_scale_optimizer_state_and_learning_rate():
    lso = LossScaleOptimizer(optimizers.SGD(0.1, momentum=0.9))
    w = et.Variable(np.ones(2, np.float32), name="dense/kernel")
    lso.build([w])
    assert [v.name for v in lso.variables] == [
        "loss_scale_optimizer/dynamic_scale",
        "loss_scale_optimizer/step_counter",
        "SGD/iterations",
        "SGD/learning_rate",
        "SGD/momentum/dense/kernel",
    ]
    assert float(lso.dynamic_scale) == 2.0**15 and lso.dynamic_growth_steps == 2000
    lso.learning_rate = 0.25
    assert float(lso.inner_optimizer.learning_rate) == 0.25
    assert lso.get_slot(w, "momentum").shape == (2,)
    assert lso.iterations is lso.inner_optimizer.iterations


def test_loss_scale_optimizer_errors():
    with pytest.raises(OptimizerError, match="inner_optimizer must be an Optimizer, got str"):
        LossScaleOptimizer("adam")
    with pytest.raises(OptimizerError, match="cannot wrap another LossScaleOptimizer"):
        LossScaleOptimizer(LossScaleOptimizer(optimizers.SGD()))
    with pytest.raises(OptimizerError, match="initial_scale must be > 0"):
        LossScaleOptimizer(optimizers.SGD(), initial_scale=0)
    with pytest.raises(OptimizerError, match="dynamic_growth_steps must be >= 1"):
        LossScaleOptimizer(optimizers.SGD(), dynamic_growth_steps=0)
