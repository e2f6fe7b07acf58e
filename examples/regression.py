"""Linear and softmax regression trained from scratch with rustdl's autograd.

Synthetic data with known weights; the script prints the loss falling and the
weights it recovers. Run: python examples/regression.py
"""

import rustdl as torch


def linear_regression():
    print("== linear regression: y = X @ w_true + b_true + noise")
    torch.manual_seed(0)
    w_true = torch.tensor([[2.0], [-3.4], [1.5]])
    b_true = 4.2
    X = torch.randn(1000, 3)
    y = X @ w_true + b_true + 0.01 * torch.randn(1000, 1)

    w = torch.zeros(3, 1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr = 0.1
    for epoch in range(30):
        for i in range(0, 1000, 100):
            xb, yb = X[i:i + 100], y[i:i + 100]
            loss = ((xb @ w + b - yb) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                w -= lr * w.grad
                b -= lr * b.grad
                w.grad.zero_()
                b.grad.zero_()
        if epoch % 5 == 0 or epoch == 29:
            with torch.no_grad():
                full = ((X @ w + b - y) ** 2).mean().item()
            print(f"epoch {epoch:2d}  mse {full:.6f}")
    print("recovered w:", [round(v, 3) for v in w.detach().flatten().tolist()], " true:", [2.0, -3.4, 1.5])
    print("recovered b:", round(b.item(), 3), " true:", b_true)


def softmax_regression():
    print("== softmax regression: 3 Gaussian blobs in 2-D")
    torch.manual_seed(1)
    centers = torch.tensor([[0.0, 3.0], [3.0, -2.0], [-3.0, -2.0]])
    labels = torch.randint(0, 3, (1500,))
    X = centers[labels] + torch.randn(1500, 2)

    W = torch.zeros(2, 3, requires_grad=True)
    b = torch.zeros(3, requires_grad=True)
    lr = 0.5
    for epoch in range(40):
        logits = X @ W + b
        # cross-entropy written out: -mean(log_softmax(logits)[i, label_i])
        logp = logits - logits.logsumexp(dim=1, keepdim=True)
        loss = -logp[torch.arange(1500), labels].mean()
        loss.backward()
        with torch.no_grad():
            W -= lr * W.grad
            b -= lr * b.grad
            W.grad = None
            b.grad = None
        if epoch % 5 == 0 or epoch == 39:
            acc = ((X @ W + b).argmax(dim=1) == labels).float().mean().item()
            print(f"epoch {epoch:2d}  loss {loss.item():.4f}  accuracy {acc:.3f}")
    print("learned W:\n", W.detach())


if __name__ == "__main__":
    linear_regression()
    softmax_regression()
