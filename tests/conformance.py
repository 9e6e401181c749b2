"""A conformance harness for keras-siamese's serialisable Keras objects, after KerasHub's
``TestCase`` (``run_layer_test``, ``run_serialization_test``, ``run_model_saving_test``,
``run_precision_test``).

Each ``run_*`` helper checks one contract on a fresh object built by a ``Case``'s ``make``:

- layers: config round trip, ``serialize_keras_object`` round trip, functional API equals the eager
  call, a ``.keras`` round trip gives the same outputs, and ``mixed_bfloat16`` computes in bfloat16
  (or the layer's declared output dtype) with float32 variables;
- losses: config and serialisation round trips (same class, config and value), a finite value on a
  tiny batch, and one training step of a tiny functional model compiled with the loss;
- learning-rate schedules: config and serialisation round trips with the same values.

``registered_objects`` lists every object registered under the ``keras_siamese`` package (all
submodules imported first, the CLI aside), so a test can require a ``Case`` for each.
"""

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

PACKAGE = "keras_siamese"


def registered_objects() -> dict[str, type]:
    """``{class name: class}`` for every ``keras_siamese>...`` registered serialisable."""
    package = importlib.import_module(PACKAGE)
    for module in pkgutil.walk_packages(package.__path__, f"{PACKAGE}."):
        if not module.name.startswith(f"{PACKAGE}.cli"):
            importlib.import_module(module.name)
    prefix = f"{PACKAGE}>"
    return {
        key[len(prefix) :]: obj
        for key, obj in keras.saving.get_custom_objects().items()
        if key.startswith(prefix)
    }


@dataclasses.dataclass(frozen=True)
class LayerCase:
    """A layer (``make``) and its positional call arguments (``inputs``, arrays or nests of them).

    ``mixed_dtype``: the dtype of its floating outputs under ``mixed_bfloat16`` (``None``: it has
    no floating output). ``dtype_kwarg``: whether ``dtype=`` reaches every sublayer (layers without
    sublayers; composite layers follow the global policy, as the library documents)."""

    make: Callable[..., keras.layers.Layer]
    inputs: Callable[[], tuple]
    mixed_dtype: str | None = "bfloat16"
    dtype_kwarg: bool = True


@dataclasses.dataclass(frozen=True)
class LossCase:
    """A loss (``make``), a tiny batch (``y_true``, ``y_pred``: stacked embeddings)."""

    make: Callable[[], keras.losses.Loss]
    y_true: np.ndarray
    y_pred: np.ndarray


@dataclasses.dataclass(frozen=True)
class ScheduleCase:
    """A learning-rate schedule (``make``) and the steps to compare it at."""

    make: Callable[[], keras.optimizers.schedules.LearningRateSchedule]
    steps: tuple[int, ...]


# -- helpers -------------------------------------------------------------------------------------


def _numpy(x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(x))


def assert_same_outputs(actual, expected, atol: float = 1e-6) -> None:
    """Same structure, same values (float outputs within ``atol``)."""
    keras.tree.assert_same_structure(actual, expected)
    for a, e in zip(keras.tree.flatten(actual), keras.tree.flatten(expected), strict=True):
        a, e = _numpy(a), _numpy(e)
        assert a.shape == e.shape
        if np.issubdtype(e.dtype, np.floating) or e.dtype.name == "bfloat16":
            np.testing.assert_allclose(a.astype("float32"), e.astype("float32"), atol=atol)
        else:
            np.testing.assert_array_equal(a, e)


def _symbolic(x, name: str | None = None):
    """A ``keras.Input`` matching a batch ``x`` (any batch size)."""
    dtype = getattr(x, "dtype", None)
    if dtype is not None and getattr(dtype, "name", "") == "string":
        return keras.Input(shape=tuple(x.shape)[1:], dtype="string", name=name)
    dtype = keras.backend.standardize_dtype(x.dtype)
    return keras.Input(shape=tuple(x.shape)[1:], dtype=dtype, name=name)


def _symbolic_arg(arg):
    if isinstance(arg, dict):  # functional models want dict inputs named by their keys
        return {key: _symbolic(value, name=key) for key, value in arg.items()}
    return keras.tree.map_structure(_symbolic, arg)


def _model_inputs(args: tuple):
    return args[0] if len(args) == 1 else list(args)


def functional_model(layer: keras.layers.Layer, args: tuple) -> keras.Model:
    """``keras.Input``(s) shaped like ``args`` -> ``layer`` -> ``keras.Model``."""
    symbolic = tuple(_symbolic_arg(arg) for arg in args)
    return keras.Model(_model_inputs(symbolic), layer(*symbolic))


def _assert_same_config(restored, original) -> None:
    assert type(restored) is type(original)
    assert restored.get_config() == original.get_config()


# -- layers --------------------------------------------------------------------------------------


def run_layer_serialization_test(case: LayerCase) -> None:
    """``from_config(get_config())`` and ``serialize``/``deserialize`` give the same config, and
    the rebuilt layer runs on the same inputs."""
    layer = case.make()
    args = case.inputs()
    layer(*args)
    _assert_same_config(layer.__class__.from_config(layer.get_config()), layer)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    _assert_same_config(restored, layer)


def run_functional_test(case: LayerCase) -> None:
    """In a functional model the layer gives what it gives when called eagerly."""
    layer = case.make()
    args = case.inputs()
    eager = layer(*args)
    model = functional_model(layer, args)
    assert_same_outputs(model(_model_inputs(args)), eager)


def run_model_saving_test(case: LayerCase, tmp_path: Path) -> None:
    """A functional model holding the layer survives a ``.keras`` round trip, outputs included."""
    layer = case.make()
    args = case.inputs()
    model = functional_model(layer, args)
    expected = model(_model_inputs(args))
    path = Path(tmp_path) / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert any(type(inner) is type(layer) for inner in restored.layers)
    assert_same_outputs(restored(_model_inputs(args)), expected)


def run_precision_test(case: LayerCase, via: str = "global") -> None:
    """Under ``mixed_bfloat16`` (the global policy, or ``dtype=`` when ``via="kwarg"``) the layer
    computes in its declared output dtype and keeps float32 variables."""
    policy = "mixed_bfloat16"
    previous = keras.config.dtype_policy()
    try:
        if via == "global":
            keras.config.set_dtype_policy(policy)
            layer = case.make()
        else:
            layer = case.make(dtype=keras.DTypePolicy(policy))
        outputs = layer(*case.inputs())
    finally:
        keras.config.set_dtype_policy(previous)
    assert layer.dtype_policy.name == policy
    for output in keras.tree.flatten(outputs):
        dtype = keras.backend.standardize_dtype(output.dtype)
        if case.mixed_dtype is None:
            assert not dtype.startswith(("float", "bfloat")), dtype
        else:
            assert dtype == case.mixed_dtype
    for variable in layer.weights:
        if variable.dtype.startswith(("float", "bfloat")):
            assert variable.dtype == "float32", variable.path
    for sublayer in layer._flatten_layers(include_self=False):
        assert sublayer.dtype_policy.name == policy, sublayer.path


# -- losses --------------------------------------------------------------------------------------


def _loss_value(loss, case: LossCase) -> float:
    return float(_numpy(loss(case.y_true, case.y_pred)))


def run_loss_test(case: LossCase) -> None:
    """Config and serialisation round trips keep class, config and value; the value is finite."""
    loss = case.make()
    value = _loss_value(loss, case)
    assert np.isfinite(value)
    for restored in (
        loss.__class__.from_config(loss.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(loss)),
    ):
        _assert_same_config(restored, loss)
        np.testing.assert_allclose(_loss_value(restored, case), value, rtol=1e-6, atol=1e-6)


def run_loss_training_test(case: LossCase) -> None:
    """A tiny functional model (one Dense on the embeddings) compiled with the loss trains a step
    and the weights move."""
    keras.utils.set_random_seed(0)
    y_pred = case.y_pred.astype("float32")
    inputs = keras.Input(shape=y_pred.shape[1:])
    dense = keras.layers.Dense(y_pred.shape[-1])
    model = keras.Model(inputs, dense(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=case.make())
    before = _numpy(dense.kernel).copy()
    logs = model.train_on_batch(y_pred, case.y_true, return_dict=True)
    assert np.isfinite(logs["loss"])
    assert not np.array_equal(_numpy(dense.kernel), before)


# -- schedules -----------------------------------------------------------------------------------


def run_schedule_test(case: ScheduleCase) -> None:
    """Config and serialisation round trips give the same class, config and learning rates, also
    inside an optimizer's config."""
    schedule = case.make()

    def rates(s) -> list[float]:
        return [float(_numpy(s(step))) for step in case.steps]

    expected = rates(schedule)
    assert all(np.isfinite(expected))
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    restored_optimizer = keras.optimizers.Adam.from_config(optimizer.get_config())
    for restored in (
        schedule.__class__.from_config(schedule.get_config()),
        keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule)),
        restored_optimizer._learning_rate,
    ):
        _assert_same_config(restored, schedule)
        assert rates(restored) == expected


def case_kind(case: Any) -> str:
    return {LayerCase: "layer", LossCase: "loss", ScheduleCase: "schedule"}[type(case)]
