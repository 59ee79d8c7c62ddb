"""The shared low-rank expert and the TaskMixture block built from it: MLoRE's form and each switch of it."""

from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from mmolre.nn import LowRankExpert, TaskMixture
from mmolre.nn.mixture import OLD_BLOCK, BlockForm

TASKS = ("sentiment", "emotion")
SWITCHES = tuple(field.name for field in dataclasses.fields(BlockForm))


def _mixture(**overrides: object) -> TaskMixture:
    options = dict(
        dim=12, tasks=TASKS, shared_ranks=(2, 4, 3), specific_rank=4, top_k=2, router_noise=1.0, load_balance=0.1
    )
    options.update(overrides)
    return TaskMixture(**options)


def _form(**changes: bool) -> BlockForm:
    return dataclasses.replace(BlockForm(), **changes)


def _flip(switch: str) -> BlockForm:
    """MLoRE's form with one element switched to its ablation."""
    return _form(**{switch: not getattr(BlockForm(), switch)})


@pytest.mark.parametrize("length", [1, 7])
def test_expert_shapes_for_sequence_and_utterance_inputs(length: int) -> None:
    expert = LowRankExpert(10, 3, out_dim=6, kernel_size=3)
    assert expert(torch.randn(2, length, 10)).shape == (2, length, 6)


@pytest.mark.parametrize("form", [BlockForm(), OLD_BLOCK, *map(_flip, SWITCHES)], ids=["mlore", "old", *SWITCHES])
def test_mixture_factors_registered_and_all_receive_gradients(form: BlockForm) -> None:
    """Every parameter of the block, in every form, gets a gradient on a batch with L > 1 and two tasks (a dense gate:
    with top-k per-sample routing an expert no sample keeps gets none from that batch, see below)."""
    torch.manual_seed(0)
    mixture = _mixture(form=form, top_k=None).train()
    state = mixture.state_dict()
    for index in range(3):
        assert f"shared_experts.{index}.A" in state and f"shared_experts.{index}.B" in state
    for task in TASKS:
        assert f"specific_experts.{task}.A" in state and f"specific_experts.{task}.B" in state
    x = torch.randn(8, 5, 12)
    positions = torch.arange(5).expand(8, 5) < torch.tensor([5, 3, 5, 2, 5, 4, 5, 1]).unsqueeze(1)
    outputs, aux, _ = mixture({t: x for t in TASKS}, positions)
    (sum(o.pow(2).mean() for o in outputs.values()) + aux).backward()
    for name, parameter in mixture.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


@pytest.mark.parametrize("length", [1, 6])
@pytest.mark.parametrize("form", [BlockForm(), OLD_BLOCK], ids=["mlore", "old"])
def test_mixture_shapes(length: int, form: BlockForm) -> None:
    mixture = _mixture(form=form)
    inputs = {"sentiment": torch.randn(3, length, 12), "emotion": torch.randn(3, length, 12)}
    outputs, aux, _ = mixture(inputs)
    assert {t: o.shape for t, o in outputs.items()} == {t: (3, length, 12) for t in TASKS}
    assert aux.shape == () and aux >= 0


def test_top_k_without_renormalisation_keeps_softmax_weights_and_zeros_the_rest() -> None:
    torch.manual_seed(0)
    mixture = _mixture(shared_ranks=(2, 4, 3, 2, 3), top_k=2).eval()
    x = torch.randn(6, 4, 12)
    weights = mixture.route("sentiment", x)
    assert weights.shape == (6, 5)
    assert ((weights > 0).sum(-1) == 2).all()
    assert (weights.sum(-1) < 1 - 1e-3).all()  # the dropped weights are not given back to the kept ones
    h = mixture.in_maps["sentiment"](x)
    probabilities = mixture.routers["sentiment"](h)[..., :5].softmax(-1)  # eval: no noise
    kept = probabilities.topk(2, dim=-1).indices
    torch.testing.assert_close(weights.gather(-1, kept), probabilities.gather(-1, kept))
    renormalised = _mixture(shared_ranks=(2, 4, 3, 2, 3), top_k=2, form=_form(renormalise=True)).eval()
    weights = renormalised.route("sentiment", x)
    assert ((weights > 0).sum(-1) == 2).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(6))
    _, _, recorded = renormalised({t: x for t in TASKS})
    assert all(torch.isclose(w.sum(), torch.tensor(1.0)) for w in recorded.values())


def test_a_dropped_logit_still_learns_without_renormalisation() -> None:
    """One sample, top 1 of 3, no noise: the dropped experts get no gradient; their router logits do, through the
    softmax over all logits (MLoRE's order), and do not once the softmax runs over the kept logits only."""
    x = torch.randn(1, 5, 12)
    for renormalise in (False, True):
        torch.manual_seed(0)
        form = _form(learned_noise=False, renormalise=renormalise)
        mixture = _mixture(top_k=1, router_noise=0.0, specific_rank=None, form=form).train()
        kept = int(mixture.route("sentiment", x).argmax())
        outputs, _, _ = mixture({t: x for t in TASKS})
        outputs["sentiment"].pow(2).sum().backward()
        dropped = [i for i in range(3) if i != kept]
        assert all(mixture.shared_experts[i].A.grad.abs().sum() == 0 for i in dropped)
        logit_grads = mixture.routers["sentiment"].out.weight.grad[dropped].abs().sum()
        assert (logit_grads > 0) == (not renormalise)


def test_sample_routing_gives_one_weight_vector_per_sample_and_ignores_padding() -> None:
    torch.manual_seed(0)
    mixture = _mixture().eval()
    x = torch.randn(4, 6, 12)
    positions = torch.arange(6).expand(4, 6) < torch.tensor([6, 2, 4, 1]).unsqueeze(1)
    weights = mixture.route("emotion", x, positions)
    assert weights.shape == (4, 3)
    noisy = x.clone()
    noisy[~positions] = 50.0
    torch.testing.assert_close(mixture.route("emotion", noisy, positions), weights)
    outputs, _, recorded = mixture({t: x for t in TASKS}, positions)
    torch.testing.assert_close(recorded["emotion"], weights.mean(0))
    assert (outputs["emotion"][~positions] == 0).all()
    token = _mixture(form=_form(sample_routing=False)).eval()
    assert token.route("emotion", x, positions).shape == (4, 6, 3)
    assert hasattr(mixture.routers["emotion"], "features")  # pooled features, then a linear map
    assert not hasattr(token.routers["emotion"], "features")  # a linear router per position


def test_learned_noise_is_a_router_output_and_off_in_eval() -> None:
    mixture = _mixture()
    assert mixture.routers["emotion"].out.out_features == 3 + 3 + 1  # logits, noise stds, task-expert scale
    x = torch.randn(2, 4, 12)
    mixture.eval()
    assert torch.equal(mixture.route("emotion", x), mixture.route("emotion", x))
    mixture.train()
    torch.manual_seed(1)
    assert not torch.equal(mixture.route("emotion", x), mixture.route("emotion", x))
    # the std rows of the router learn in training
    mixture.zero_grad()
    outputs, _, _ = mixture({t: x for t in TASKS})
    outputs["emotion"].pow(2).sum().backward()
    assert mixture.routers["emotion"].out.weight.grad[3:6].abs().sum() > 0
    fixed = _mixture(form=_form(learned_noise=False), router_noise=0.0).train()
    assert fixed.routers["emotion"].out.out_features == 3 + 1
    assert torch.equal(fixed.route("emotion", x), fixed.route("emotion", x))


def test_out_norm_switch() -> None:
    """MLoRE: GELU after a LayerNorm (outputs >= GELU's minimum without output maps); ablation: LayerNorm(x + y)."""
    torch.manual_seed(0)
    x = torch.randn(3, 5, 12) * 4
    mlore = _mixture(form=_form(task_maps=False)).eval()
    assert set(mlore.norms) == {"experts", "out"}
    outputs, _, _ = mlore({t: x for t in TASKS})
    assert all(o.min() >= -0.1701 for o in outputs.values())
    residual = _mixture(form=_form(task_maps=False, out_norm=False)).eval()
    assert set(residual.norms) == {"residual"}
    outputs, _, _ = residual({t: x for t in TASKS})
    for o in outputs.values():
        torch.testing.assert_close(o.mean(-1), torch.zeros(3, 5), atol=1e-5, rtol=0)
        assert o.min() < -0.5


def test_task_maps_make_tasks_differ_on_the_same_input() -> None:
    x = torch.randn(2, 3, 12)
    shared = dict(shared_router=True, specific_rank=None, top_k=None)
    mapped = _mixture(**shared).eval()
    assert set(mapped.in_maps) == set(mapped.out_maps) == set(TASKS)
    outputs, _, _ = mapped({t: x for t in TASKS})
    assert not torch.allclose(outputs["sentiment"], outputs["emotion"])
    plain = _mixture(**shared, form=_form(task_maps=False)).eval()
    assert plain.in_maps is None and plain.out_maps is None
    outputs, _, _ = plain({t: x for t in TASKS})
    torch.testing.assert_close(outputs["sentiment"], outputs["emotion"])


def test_task_scale_is_the_routers_last_output() -> None:
    torch.manual_seed(0)
    mixture = _mixture().eval()
    assert mixture.gates is None
    x = torch.randn(2, 4, 12)
    with torch.no_grad():
        for router in mixture.routers.values():
            router.out.weight[-1].zero_()
            router.out.bias[-1].zero_()
        before, _, _ = mixture({t: x for t in TASKS})
        for expert in mixture.specific_experts.values():
            expert.B.normal_()
        after, _, _ = mixture({t: x for t in TASKS})
    for task in TASKS:
        torch.testing.assert_close(before[task], after[task])  # scale 0: the task expert adds nothing
    gated = _mixture(form=_form(task_scale=False))
    assert set(gated.gates) == set(TASKS) and gated.routers["emotion"].out.out_features == 3 + 3


def test_static_shared_branch_sees_a_detached_input() -> None:
    """With the task expert's output map at zero, only the static branch carries the input map's output forward; it
    is detached, so the input map gets no gradient while the static convolution does."""
    torch.manual_seed(0)
    mixture = _mixture(shared_ranks=(), form=_form(out_norm=False)).train()
    with torch.no_grad():
        for expert in mixture.specific_experts.values():
            expert.B.zero_()
    outputs, _, _ = mixture({t: torch.randn(2, 5, 12) for t in TASKS})
    sum(o.pow(2).sum() for o in outputs.values()).backward()
    assert mixture.static.weight.grad.abs().sum() > 0
    assert all(m.weight.grad.abs().sum() == 0 for m in mixture.in_maps.values())
    assert _mixture(form=_form(static_shared=False)).static is None


def test_old_block_is_our_earlier_formula() -> None:
    """LayerNorm(x + sum_i w_i E_i(x) + sigmoid(g(x)) S(x)), w: top-k softmax of a linear router per position."""
    torch.manual_seed(0)
    mixture = _mixture(form=OLD_BLOCK, dropout=0.0).eval()
    assert mixture.in_maps is None and mixture.static is None and set(mixture.norms) == {"residual"}
    x = torch.randn(2, 5, 12)
    outputs, _, _ = mixture({t: x for t in TASKS})
    for task in TASKS:
        logits = mixture.routers[task].out(x)
        kth = logits.topk(2, dim=-1).values[..., -1:]
        w = logits.masked_fill(logits < kth, float("-inf")).softmax(-1)
        mixed = sum(w[..., i : i + 1] * expert(x) for i, expert in enumerate(mixture.shared_experts))
        mixed = mixed + torch.sigmoid(mixture.gates[task](x)) * mixture.specific_experts[task](x)
        expected = F.layer_norm(
            x + mixed, (12,), mixture.norms["residual"][task].weight, mixture.norms["residual"][task].bias
        )
        torch.testing.assert_close(outputs[task], expected)


def test_shared_router_is_one_gate_for_all_tasks() -> None:
    mixture = _mixture(shared_router=True, specific_rank=None, top_k=None, form=_form(task_maps=False)).eval()
    assert list(mixture.routers) == ["all"]
    x = torch.randn(2, 3, 12)
    outputs, _, _ = mixture({t: x for t in TASKS})
    assert torch.allclose(outputs["sentiment"], outputs["emotion"])


def test_drop_shared_or_specific_experts() -> None:
    no_shared = _mixture(shared_ranks=())
    assert no_shared.n_shared == 0 and no_shared.routers["emotion"].out.out_features == 1  # the task scale only
    assert no_shared({t: torch.randn(2, 3, 12) for t in TASKS})[2] == {}
    no_specific = _mixture(specific_rank=None)
    assert len(no_specific.specific_experts) == 0 and no_specific.gates is None
    assert no_specific.routers["emotion"].out.out_features == 3 + 3
    with pytest.raises(ValueError, match="needs shared experts"):
        _mixture(shared_ranks=(), specific_rank=None)


def test_low_rank_experts_smaller_than_full_rank_at_equal_expert_count() -> None:
    low = _mixture(dim=64, shared_ranks=(4, 8, 16, 8), specific_rank=8)
    full = _mixture(dim=64, shared_ranks=(64,) * 4, specific_rank=64)
    count = lambda m: sum(p.numel() for n, p in m.named_parameters() if "experts" in n)  # noqa: E731
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
    with pytest.raises(ValueError, match="shared router"):
        _mixture(shared_router=True)
