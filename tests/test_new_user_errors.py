"""Mistakes a new user makes get an error that says what was wrong and what to do instead."""
from __future__ import annotations

import numpy as np
import pytest

import autograd as ag
from autograd import nn, optim


@pytest.mark.parametrize("make", [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop])
@pytest.mark.parametrize("model", [nn.Linear(3, 2), nn.Sequential(nn.Linear(3, 2), nn.ReLU())])
def test_optimizer_given_a_model_says_to_pass_its_parameters(make, model):
    # (Sequential is iterable: without the check it would fail on "item 0 is a Linear")
    with pytest.raises(TypeError, match=r"pass model\.parameters\(\)") as info:
        make(model, lr=0.1)
    assert type(model).__name__ in str(info.value) and make.__name__ in str(info.value)


def test_optimizer_given_something_not_iterable_names_it():
    with pytest.raises(TypeError, match=r"SGD takes an iterable .* not float"):
        optim.SGD(0.5, lr=0.1)


def test_optimizer_still_takes_parameters_and_groups():
    model = nn.Linear(3, 2)
    assert len(optim.SGD(model.parameters(), lr=0.1).param_groups[0]["params"]) == 2
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.01}]
    assert optim.SGD(groups, lr=0.1).param_groups[1]["lr"] == 0.01


@pytest.mark.parametrize("data, named", [
    ("abc", "str 'abc'"),
    (b"\x01", "bytes b'\\x01'"),
    (["a", "b"], "list of dtype <U1"),
    (np.array(["x", "y"]), "ndarray of dtype <U1"),
    (np.array([object()], dtype=object), "ndarray of dtype object"),
    (np.array(["2024-01-01"], dtype="datetime64[D]"), "ndarray of dtype datetime64[D]"),
])
def test_non_numeric_tensor_data_is_rejected_naming_its_type(data, named):
    for make in (ag.tensor, ag.Tensor):
        with pytest.raises(TypeError, match="Tensor data must be numbers") as info:
            make(data)
        assert named in str(info.value)


@pytest.mark.parametrize("data, dtype", [
    (3, ag.float32), ([1, 2], ag.float32), ([True, False], np.bool_),
    (np.array([1, 2], dtype=np.int64), ag.int64), (np.array([1.5], dtype=np.float64), ag.float64),
    (np.float64(2.0), ag.float64),
])
def test_numeric_tensor_data_is_still_accepted(data, dtype):
    assert ag.tensor(data).dtype == dtype
