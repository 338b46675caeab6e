"""Public PyTorch example programs, ported by changing only their imports.

Each test is the program's model and training loop as published (shrunk data: small
generated inputs instead of the datasets, fewer epochs), with `import torch` replaced by
`import deepgrad as torch` and likewise for `torch.nn`, `torch.nn.functional` and
`torch.optim`.  Each checks that the program trains (its loss falls or it beats chance).
"""

from __future__ import annotations

import math
import random

import numpy as np

import deepgrad as torch
import deepgrad.nn.functional as F
from deepgrad import nn, optim


def test_sixty_minute_blitz_cifar_classifier_trains():
    """pytorch.org tutorials: Deep Learning with PyTorch: A 60 Minute Blitz, 'Training a
    classifier' (CIFAR-10 Net), on 32x32 images whose class is their brightest channel."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = torch.flatten(x, 1)  # flatten all dimensions except batch
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = self.fc3(x)
            return x

    torch.manual_seed(0)
    labels_all = torch.randint(0, 3, (96,))
    images_all = torch.rand(96, 3, 32, 32) * 0.5
    images_all[torch.arange(96), labels_all] += 1.0
    trainloader = [(images_all[i : i + 16], labels_all[i : i + 16]) for i in range(0, 96, 16)]

    net = Net()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    losses = []
    for epoch in range(8):  # loop over the dataset multiple times
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            # get the inputs; data is a list of [inputs, labels]
            inputs, labels = data
            # zero the parameter gradients
            optimizer.zero_grad()
            # forward + backward + optimize
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
        losses.append(running_loss)

    correct = 0
    total = 0
    # since we're not training, we don't need to calculate the gradients for our outputs
    with torch.no_grad():
        for data in trainloader:
            images, labels = data
            # calculate outputs by running images through the network
            outputs = net(images)
            # the class with the highest energy is what we choose as prediction
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    assert losses[-1] < losses[0]
    assert correct / total > 0.6  # chance is 1/3


def test_pytorch_examples_mnist_trains():
    """github.com/pytorch/examples mnist/main.py (Net, train, test), on 12x12 digits
    (fc1 takes 64*4*4 features instead of 9216) with Adam for its missing Adadelta."""

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(1024, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    def train(model, device, train_loader, optimizer, epoch):
        model.train()
        for batch_idx, (data, target) in enumerate(train_loader):
            data, target = data.to(device), target.to(device)
            optimizer.zero_grad()
            output = model(data)
            loss = F.nll_loss(output, target)
            loss.backward()
            optimizer.step()

    def test(model, device, test_loader):
        model.eval()
        test_loss = 0
        correct = 0
        with torch.no_grad():
            for data, target in test_loader:
                data, target = data.to(device), target.to(device)
                output = model(data)
                test_loss += F.nll_loss(output, target, reduction="sum").item()  # sum up batch loss
                pred = output.argmax(
                    dim=1, keepdim=True
                )  # get the index of the max log-probability
                correct += pred.eq(target.view_as(pred)).sum().item()
        test_loss /= 64
        return test_loss, correct / 64

    torch.manual_seed(1)
    device = torch.device("cpu")
    target = torch.randint(0, 4, (64,))
    data = torch.randn(64, 1, 12, 12) * 0.3
    for k in range(4):  # each class lights up one quadrant
        rows = target == k
        data[rows, 0, (k // 2) * 6 : (k // 2) * 6 + 6, (k % 2) * 6 : (k % 2) * 6 + 6] += 1.0
    loader = [(data[i : i + 16], target[i : i + 16]) for i in range(0, 64, 16)]
    model = Net().to(device)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    first_loss, _ = test(model, device, loader)
    for epoch in range(1, 4):
        train(model, device, loader, optimizer, epoch)
    last_loss, accuracy = test(model, device, loader)
    assert last_loss < first_loss and accuracy > 0.8


def test_makemore_mlp_trains():
    """Karpathy, makemore part 2 (the MLP of Bengio et al. 2003), on a small word list."""
    words = ["emma", "olivia", "ava", "isabella", "sophia", "mia", "amelia", "harper", "evelyn",
             "abigail", "emily", "ella", "elizabeth", "camila", "luna", "sofia", "avery", "mila"]  # fmt: skip
    chars = sorted(list(set("".join(words))))  # noqa: C414 (the program's own line)
    stoi = {s: i + 1 for i, s in enumerate(chars)}
    stoi["."] = 0
    block_size = 3  # context length: how many characters do we take to predict the next one?

    def build_dataset(words):
        X, Y = [], []
        for w in words:
            context = [0] * block_size
            for ch in w + ".":
                ix = stoi[ch]
                X.append(context)
                Y.append(ix)
                context = context[1:] + [ix]  # crop and append
        X = torch.tensor(X)
        Y = torch.tensor(Y)
        return X, Y

    Xtr, Ytr = build_dataset(words)
    vocab = len(stoi)
    g = torch.Generator().manual_seed(2147483647)  # for reproducibility
    C = torch.randn((vocab, 10), generator=g)
    W1 = torch.randn((30, 200), generator=g)
    b1 = torch.randn(200, generator=g)
    W2 = torch.randn((200, vocab), generator=g)
    b2 = torch.randn(vocab, generator=g)
    parameters = [C, W1, b1, W2, b2]
    assert (
        sum(p.nelement() for p in parameters) == vocab * 10 + 30 * 200 + 200 + 200 * vocab + vocab
    )
    for p in parameters:
        p.requires_grad = True

    lossi = []
    for i in range(300):
        # minibatch construct
        ix = torch.randint(0, Xtr.shape[0], (32,), generator=g)
        # forward pass
        emb = C[Xtr[ix]]  # (32, 3, 10)
        h = torch.tanh(emb.view(-1, 30) @ W1 + b1)  # (32, 200)
        logits = h @ W2 + b2  # (32, vocab)
        loss = F.cross_entropy(logits, Ytr[ix])
        # backward pass
        for p in parameters:
            p.grad = None
        loss.backward()
        # update
        lr = 0.1 if i < 200 else 0.01
        for p in parameters:
            p.data += -lr * p.grad
        lossi.append(loss.log10().item())

    emb = C[Xtr]
    h = torch.tanh(emb.view(-1, 30) @ W1 + b1)
    logits = h @ W2 + b2
    full_loss = F.cross_entropy(logits, Ytr)
    assert full_loss.item() < 1.5 < 10 ** np.mean(lossi[:10])


def test_d2l_linear_regression_from_scratch_recovers_the_weights():
    """d2l.ai 3.4 'Linear Regression Implementation from Scratch' (PyTorch tab)."""

    def synthetic_data(w, b, num_examples):
        """Generate y = Xw + b + noise."""
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        # The examples are read at random, in no particular order
        random.Random(0).shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i : min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)

    def linreg(X, w, b):
        """The linear regression model."""
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        """Squared loss."""
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        """Minibatch stochastic gradient descent."""
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    lr = 0.03
    num_epochs = 3
    net = linreg
    loss = squared_loss
    for epoch in range(num_epochs):
        for X, y in data_iter(10, features, labels):
            l = loss(net(X, w, b), y)  # Minibatch loss in `X` and `y`
            # Compute gradient on `l` with respect to [`w`, `b`]
            l.sum().backward()
            sgd([w, b], lr, 10)  # Update parameters using their gradient
        with torch.no_grad():
            train_l = loss(net(features, w, b), labels)
            report = f"epoch {epoch + 1}, loss {float(train_l.mean()):f}"
            assert report.startswith(f"epoch {epoch + 1}, loss 0.")
    assert float(train_l.mean()) < 1e-3
    np.testing.assert_allclose((true_w - w.reshape(true_w.shape)).numpy(), 0, atol=0.01)
    assert abs(true_b - b.item()) < 0.01


def test_learning_pytorch_with_examples_autograd_polynomial_fit():
    """pytorch.org 'Learning PyTorch with Examples': PyTorch: Tensors and autograd
    (a third-order polynomial fit to sin(x) by manual gradient descent)."""
    dtype = torch.float
    device = torch.device("cpu")
    x = torch.linspace(-math.pi, math.pi, 2000, device=device, dtype=dtype)
    y = torch.sin(x)
    a = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    b = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    c = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    d = torch.randn((), device=device, dtype=dtype, requires_grad=True)
    learning_rate = 1e-6
    losses = []
    for t in range(300):
        y_pred = a + b * x + c * x**2 + d * x**3
        loss = (y_pred - y).pow(2).sum()
        losses.append(loss.item())
        loss.backward()
        with torch.no_grad():
            a -= learning_rate * a.grad
            b -= learning_rate * b.grad
            c -= learning_rate * c.grad
            d -= learning_rate * d.grad
            # Manually zero the gradients after updating weights
            a.grad = None
            b.grad = None
            c.grad = None
            d.grad = None
    assert losses[-1] < 0.1 * losses[0]
    result = f"Result: y = {a.item()} + {b.item()} x + {c.item()} x^2 + {d.item()} x^3"
    assert "nan" not in result


def test_learning_pytorch_with_examples_nn_module_polynomial_fit():
    """pytorch.org 'Learning PyTorch with Examples': PyTorch: nn (Sequential, MSELoss,
    model.zero_grad() and a manual update of model.parameters() under no_grad)."""
    x = torch.linspace(-math.pi, math.pi, 2000)
    y = torch.sin(x)
    p = torch.tensor([1, 2, 3])
    xx = x.unsqueeze(-1).pow(p)
    model = torch.nn.Sequential(torch.nn.Linear(3, 1), torch.nn.Flatten(0, 1))
    loss_fn = torch.nn.MSELoss(reduction="sum")
    learning_rate = 1e-6
    losses = []
    for t in range(300):
        y_pred = model(xx)
        loss = loss_fn(y_pred, y)
        losses.append(loss.item())
        model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for param in model.parameters():
                param -= learning_rate * param.grad
    linear_layer = model[0]
    assert losses[-1] < 0.2 * losses[0]
    assert linear_layer.bias.shape == (1,) and linear_layer.weight[:, 0].item() != 0
