"""
A ReLU network's fit of a sine
==============================

A 1-8-1 ReLU network trained on sin(x) for a few epochs: the fit is a piecewise-linear function.
"""
import matplotlib.pyplot as plt
import numpy as np

import fastmlp

x = np.linspace(-3, 3, 200).reshape(-1, 1)
y = np.sin(x)
model = fastmlp.MLP([1, 8, 1], activation="relu", dtype="float64", seed=0)
history = model.fit(x, y, epochs=200, batch_size=20, lr=0.01, optimizer="adam")
print(f"final training loss {history['loss'][-1]:.4f}")

fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(x[:, 0], y[:, 0], label="sin x")
ax.plot(x[:, 0], model.predict(x)[:, 0], label="1-8-1 ReLU fit")
ax.legend()
_ = ax.set_xlabel("x")
fig.tight_layout()
