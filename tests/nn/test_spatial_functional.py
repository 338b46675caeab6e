"""F.affine_grid / F.grid_sample (the spatial transformer): identity, shifts, gradients,
and float64 parity with PyTorch (skipped without it)."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.nn import functional as F
from deepgrad.testing import gradcheck

RNG = np.random.default_rng(4)
IDENTITY = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])


@pytest.mark.parametrize("align_corners", [False, True])
def test_identity_transform_reproduces_the_input(align_corners):
    x = RNG.normal(size=(1, 2, 4, 5))
    grid = F.affine_grid(dg.tensor(IDENTITY), (1, 2, 4, 5), align_corners=align_corners)
    out = F.grid_sample(dg.tensor(x), grid, align_corners=align_corners)
    np.testing.assert_allclose(out.data, x, atol=1e-12)


def test_integer_shift_and_zero_padding():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    theta = np.array([[[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]]])  # x shifted by one pixel (of 4)
    out = F.grid_sample(dg.tensor(x), F.affine_grid(dg.tensor(theta), (1, 1, 4, 4))).data
    np.testing.assert_allclose(out[0, 0, :, :3], x[0, 0, :, 1:])
    np.testing.assert_allclose(out[0, 0, :, 3], 0.0)  # sampled outside: zeros
    border = F.grid_sample(
        dg.tensor(x), F.affine_grid(dg.tensor(theta), (1, 1, 4, 4)), padding_mode="border"
    )
    np.testing.assert_allclose(border.data[0, 0, :, 3], x[0, 0, :, 3])


def test_gradients_against_finite_differences():
    x = dg.tensor(RNG.normal(size=(2, 2, 3, 4)), requires_grad=True)
    theta = dg.tensor(
        np.tile(IDENTITY, (2, 1, 1)) + 0.1 * RNG.normal(size=(2, 2, 3)), requires_grad=True
    )

    def f(x, theta):
        return F.grid_sample(x, F.affine_grid(theta, (2, 2, 3, 3)))

    assert gradcheck(f, [x, theta], atol=1e-5, rtol=1e-4)


def test_errors_name_the_function():
    with pytest.raises(ValueError, match=r"affine_grid: theta must be \(1, 2, 3\)"):
        F.affine_grid(dg.tensor(np.zeros((1, 3, 3))), (1, 1, 2, 2))
    with pytest.raises(ValueError, match="grid_sample: padding_mode must be 'zeros', 'border'"):
        F.grid_sample(dg.zeros(1, 1, 2, 2), dg.zeros(1, 2, 2, 2), padding_mode="mirror")


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_matches_torch(mode, padding_mode, align_corners):
    torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
    TF = torch.nn.functional
    x = RNG.normal(size=(2, 3, 4, 5))
    theta = np.tile(IDENTITY, (2, 1, 1)) * 1.3 + 0.3 * RNG.normal(size=(2, 2, 3))
    ours_x, ours_t = dg.tensor(x, requires_grad=True), dg.tensor(theta, requires_grad=True)
    tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(theta, requires_grad=True)
    size = (2, 3, 3, 4)
    out = F.grid_sample(
        ours_x, F.affine_grid(ours_t, size, align_corners), mode, padding_mode, align_corners
    )
    ref = TF.grid_sample(
        tx, TF.affine_grid(tt, size, align_corners), mode, padding_mode, align_corners
    )
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    w = RNG.normal(size=out.shape)
    (out * dg.tensor(w)).sum().backward()
    (ref * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(ours_x.grad.data, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    if mode == "nearest":  # piecewise constant in the grid: no graph to theta (torch: zeros)
        assert ours_t.grad is None and not tt.grad.numpy().any()
    else:
        np.testing.assert_allclose(ours_t.grad.data, tt.grad.numpy(), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_volumetric_matches_torch(mode, padding_mode):
    torch = pytest.importorskip("torch", reason="PyTorch parity checks need torch installed")
    TF = torch.nn.functional
    x = RNG.normal(size=(2, 2, 3, 4, 3))
    eye = np.array([[[1.0, 0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0]]])
    theta = np.tile(eye, (2, 1, 1)) * 1.2 + 0.2 * RNG.normal(size=(2, 3, 4))
    ours_x, ours_t = dg.tensor(x, requires_grad=True), dg.tensor(theta, requires_grad=True)
    tx, tt = torch.tensor(x, requires_grad=True), torch.tensor(theta, requires_grad=True)
    size = (2, 2, 2, 3, 3)
    out = F.grid_sample(ours_x, F.affine_grid(ours_t, size), mode, padding_mode)
    ref = TF.grid_sample(tx, TF.affine_grid(tt, size, False), mode, padding_mode, False)
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    (out * out).sum().backward()
    (ref * ref).sum().backward()
    np.testing.assert_allclose(ours_x.grad.data, tx.grad.numpy(), rtol=1e-8, atol=1e-10)
    if mode == "bilinear":
        np.testing.assert_allclose(ours_t.grad.data, tt.grad.numpy(), rtol=1e-7, atol=1e-9)
