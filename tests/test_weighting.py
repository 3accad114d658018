"""Grad-norm loss balancing and causal weighting."""

from __future__ import annotations

import math

import pytest
import torch

from pinnkit.weighting import GradNormBalance, causal_loss


def test_grad_norms_and_update_follow_the_formula():
    theta = torch.tensor([3.0, 4.0], dtype=torch.float64, requires_grad=True)
    losses = {"a": (theta**2).sum() / 2, "b": 10 * theta[0]}  # gradients (3, 4) and (10, 0): norms 5 and 10
    bal = GradNormBalance(every=10, alpha=0.5)
    norms = bal.grad_norms(losses, [theta])
    torch.testing.assert_close(norms, torch.tensor([5.0, 10.0], dtype=torch.float64))
    w = bal.update(torch.ones(2, dtype=torch.float64), norms)  # new = 15/5, 15/10 = 3, 1.5; averaged with 1
    torch.testing.assert_close(w, torch.tensor([2.0, 1.25], dtype=torch.float64))
    assert bal.due(20) and not bal.due(21)
    with pytest.raises(ValueError, match="every >= 1 and 0 <= alpha < 1"):
        GradNormBalance(every=0)


def test_a_term_already_met_keeps_its_weight_instead_of_exploding():
    """A term with (near) zero gradient (e.g. periodicity made exact by the embedding) keeps its weight; the
    live terms are balanced as before."""
    bal = GradNormBalance(every=1, alpha=0.0)
    w = bal.update(
        torch.tensor([1.0, 2.0, 7.0], dtype=torch.float64), torch.tensor([5.0, 10.0, 1e-9], dtype=torch.float64)
    )
    torch.testing.assert_close(w, torch.tensor([3.0, 1.5, 7.0], dtype=torch.float64))


def test_causal_weights_are_exponentials_of_earlier_chunk_losses():
    t = torch.tensor([0.1, 0.2, 0.6, 0.7, 0.95], dtype=torch.float64)  # chunks of [0, 1] in 3: 0, 0, 1, 2, 2
    r = torch.tensor([1.0, 3.0, 2.0, 1.0, 1.0], dtype=torch.float64, requires_grad=True)
    loss, w = causal_loss(r, t, 0.0, 1.0, chunks=3, eps=0.5)
    chunk = torch.tensor([5.0, 4.0, 1.0], dtype=torch.float64)  # mean squares per chunk
    want_w = torch.exp(-0.5 * torch.tensor([0.0, 5.0, 9.0], dtype=torch.float64))
    torch.testing.assert_close(w, want_w)
    torch.testing.assert_close(loss, (want_w * chunk).mean())
    loss.backward()  # no gradient flows through the weights: d/dr of w_i * mean(r²) only
    torch.testing.assert_close(r.grad[0], want_w[0] * 2 * 1.0 / 2 / 3)
    assert not w.requires_grad


def test_causal_loss_with_a_vector_residual_and_empty_chunks():
    t = torch.zeros(4, dtype=torch.float64)
    r = torch.ones(4, 2, dtype=torch.float64)
    loss, w = causal_loss(r, t, 0.0, 1.0, chunks=4, eps=1.0)
    e = math.exp(-1)
    assert math.isclose(loss.item(), 1 / 4) and torch.equal(w, torch.tensor([1.0, e, e, e], dtype=torch.float64))
