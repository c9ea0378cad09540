"""Source document 004's worked numbers (slides 15-24 and 34) as a fixture of ``fastmlp.loss_mse`` and
``fastmlp.dense_backward``: the slides' Delta p = ideal p - p, Delta b = Delta p, Delta W = Delta p x^T,
Delta x = W^T Delta p, and the ReLU mask (Delta p' = Delta p with zeros where p was 0).

The slides' p is given, not computed: they say their numbers are made up and do not agree with W x + b
("数字はテキトー。整合性取れてないです"), so p enters loss_mse as it stands. fastmlp returns gradients, the slides
the change to make: with one image, dp = p - t = -Delta p, dW = -Delta W, db = -Delta b, dx = -Delta x."""
import numpy as np
import pytest

import fastmlp

# slide 15/16: the 4x3 image, flattened (black = 1)
X = np.array([1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1], dtype=np.float64)
# slide 18: W alternates two rows, b one value per digit
ROW_A = [1.2, -0.9, 0.2, 1.3, 0.1, -1.3, 1.2, 1.3, 0.4, 0.3, -0.9, 1.1]
ROW_B = [1.0, -0.4, 0.5, -0.9, 1.1, 0.4, 0.1, -1.3, 0.5, 1.2, 1.3, 0.4]
W = np.array([ROW_A if i % 2 == 0 else ROW_B for i in range(10)])
B = np.array([1.1, -0.2, 0.3, -1.4, 1.0, 1.5, -0.9, -0.3, 0.7, 0.4])
# slide 20/21: p, the ideal p for an image of "0" (+5 for the right digit, -5 for the others) and Delta p
P = np.array([0.8, 0.1, 1.5, 1.1, -0.9, 0.3, 0.8, 1.2, -1.0, 1.0])
IDEAL = np.array([5.0] + [-5.0] * 9)
DELTA_P = np.array([+4.2, -5.1, -6.5, -6.1, -4.1, -5.3, -5.8, -6.2, -4.0, -6.0])


def test_the_slides_delta_p_is_ideal_minus_p():
    np.testing.assert_allclose(IDEAL - P, DELTA_P, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_loss_mse_gives_minus_delta_p(dtype):
    loss, dp = fastmlp.loss_mse(P[None].astype(dtype), IDEAL[None].astype(dtype))
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(np.asarray(dp, dtype=np.float64)[0], -DELTA_P, rtol=tol, atol=tol)
    assert float(loss) == pytest.approx(0.5 * float(np.sum(DELTA_P ** 2)), rel=tol)   # 0.5 * 300.81


def test_dense_backward_gives_the_slides_delta_b_delta_w_delta_x():
    # one image, linear layer p = W x + b: db = -Delta b = -Delta p, dW = -Delta p x^T, dx = -W^T Delta p
    dW, db, dx = fastmlp.dense_backward(X[None], W, P[None], -DELTA_P[None], act="identity")
    np.testing.assert_allclose(db, -DELTA_P, atol=1e-12)
    np.testing.assert_allclose(dW, -np.outer(DELTA_P, X), atol=1e-12)
    np.testing.assert_allclose(dW[0], -4.2 * X, atol=1e-12)         # slide 23: row 0 grows where x_j = 1
    assert np.all(dW[:, X == 0] == 0)                               # white pixels: no change to their weights
    np.testing.assert_allclose(dx[0], -W.T @ DELTA_P, atol=1e-12)


def test_relu_masks_delta_p_where_p_was_zero():
    # slide 34: p' = W x + b, p = ReLU(p'); Delta p from the ideal p, then Delta p' = Delta p with zeros where p = 0
    p = np.maximum(P, 0.0)
    _, dp = fastmlp.loss_mse(p[None], IDEAL[None])
    delta_p = -np.asarray(dp)[0]
    np.testing.assert_allclose(delta_p[[4, 8]], [-5.0, -5.0], atol=1e-12)    # p = 0 there: ideal -5 - 0
    dz = np.empty((1, 10))
    dW, db, _ = fastmlp.dense_backward(X[None], W, p[None], dp, act="relu", dz=dz)
    want = np.where(p > 0, delta_p, 0.0)
    np.testing.assert_allclose(-dz[0], want, atol=1e-12)
    np.testing.assert_allclose(-db, want, atol=1e-12)
    np.testing.assert_allclose(-dW, np.outer(want, X), atol=1e-12)


def test_batch_gradient_descent_sums_over_images():
    # slide 25: every image's Delta W, Delta b summed (fastmlp: mean over the batch, so n times the mean)
    X2 = np.stack([X, 1 - X])
    P2 = np.stack([P, P[::-1]])
    T2 = np.stack([IDEAL, IDEAL[::-1]])
    _, dp = fastmlp.loss_mse(P2, T2)
    dW, db, _ = fastmlp.dense_backward(X2, W, P2, dp, act="identity")
    D = T2 - P2
    np.testing.assert_allclose(-2 * dW, D.T @ X2, atol=1e-12)
    np.testing.assert_allclose(-2 * db, D.sum(0), atol=1e-12)
