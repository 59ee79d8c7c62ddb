"""The shared low-rank expert and the TaskMixture layer built from it."""

from __future__ import annotations

import pytest
import torch

from mmolre.nn import LowRankExpert, TaskMixture

TASKS = ("sentiment", "emotion")


def _mixture(**overrides: object) -> TaskMixture:
    options = dict(
        dim=12, tasks=TASKS, shared_ranks=(2, 4, 3), specific_rank=4, top_k=2, router_noise=1.0, load_balance=0.1
    )
    options.update(overrides)
    return TaskMixture(**options)


@pytest.mark.parametrize("length", [1, 7])
def test_expert_shapes_for_sequence_and_utterance_inputs(length: int) -> None:
    expert = LowRankExpert(10, 3, out_dim=6, kernel_size=3)
    assert expert(torch.randn(2, length, 10)).shape == (2, length, 6)


def test_mixture_factors_registered_and_all_receive_gradients() -> None:
    torch.manual_seed(0)
    mixture = _mixture()
    state = mixture.state_dict()
    for index in range(3):
        assert f"shared_experts.{index}.A" in state and f"shared_experts.{index}.B" in state
    for task in TASKS:
        assert f"specific_experts.{task}.A" in state and f"specific_experts.{task}.B" in state
    x = torch.randn(8, 5, 12)
    outputs, aux, _ = mixture({t: x for t in TASKS})
    (sum(o.pow(2).mean() for o in outputs.values()) + aux).backward()
    for name, parameter in mixture.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("length", [1, 6])
def test_mixture_shapes(length: int) -> None:
    mixture = _mixture()
    inputs = {"sentiment": torch.randn(3, length, 12), "emotion": torch.randn(3, length, 12)}
    outputs, aux, _ = mixture(inputs)
    assert {t: o.shape for t, o in outputs.items()} == {t: (3, length, 12) for t in TASKS}
    assert aux.shape == () and aux >= 0


def test_routing_weights_sum_to_one_and_respect_top_k() -> None:
    mixture = _mixture(top_k=1).eval()
    _, _, weights = mixture({t: torch.randn(4, 3, 12) for t in TASKS})
    assert set(weights) == set(TASKS)
    for w in weights.values():
        assert w.shape == (3,) and torch.isclose(w.sum(), torch.tensor(1.0))
    probe = torch.randn(2, 5, 12)
    assert ((mixture._route("sentiment", probe) > 0).sum(-1) == 1).all()


def test_router_noise_only_in_training() -> None:
    mixture = _mixture(router_noise=5.0)
    x = torch.randn(2, 4, 12)
    mixture.eval()
    assert torch.equal(mixture._route("emotion", x), mixture._route("emotion", x))
    mixture.train()
    torch.manual_seed(1)
    assert not torch.equal(mixture._route("emotion", x), mixture._route("emotion", x))


def test_shared_router_is_one_gate_for_all_tasks() -> None:
    mixture = _mixture(shared_router=True, specific_rank=None, top_k=None).eval()
    assert list(mixture.routers) == ["all"]
    x = torch.randn(2, 3, 12)
    outputs, _, _ = mixture({t: x for t in TASKS})
    assert torch.allclose(outputs["sentiment"], outputs["emotion"])


def test_drop_shared_or_specific_experts() -> None:
    no_shared = _mixture(shared_ranks=())
    assert no_shared.n_shared == 0 and len(no_shared.routers) == 0
    assert no_shared({t: torch.randn(2, 3, 12) for t in TASKS})[2] == {}
    no_specific = _mixture(specific_rank=None)
    assert len(no_specific.specific_experts) == 0 and len(no_specific.gates) == 0
    with pytest.raises(ValueError, match="needs shared experts"):
        _mixture(shared_ranks=(), specific_rank=None)


def test_low_rank_mixture_smaller_than_full_rank_at_equal_expert_count() -> None:
    low = _mixture(dim=64, shared_ranks=(4, 8, 16, 8), specific_rank=8)
    full = _mixture(dim=64, shared_ranks=(64,) * 4, specific_rank=64)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(low) < 0.3 * count(full)


def test_load_balance_is_zero_for_uniform_routing() -> None:
    mixture = _mixture()
    assert mixture._balance(torch.full((12, 3), 1 / 3)) == 0
    assert mixture._balance(torch.tensor([[1.0, 0.0, 0.0]])) > 0


def test_mixture_rejects_bad_inputs() -> None:
    mixture = _mixture()
    with pytest.raises(ValueError, match="expects inputs for tasks"):
        mixture({"sentiment": torch.randn(2, 3, 12)})
    with pytest.raises(ValueError, match=r"must be \(B, L, 12\)"):
        mixture({t: torch.randn(2, 3, 11) for t in TASKS})
    with pytest.raises(ValueError, match="distinct"):
        _mixture(tasks=("a", "a"))
