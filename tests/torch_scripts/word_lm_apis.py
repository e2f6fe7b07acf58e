"""The PyTorch APIs the word-language-model example leans on, in plain PyTorch:
an nn.Transformer subclass that uses only its encoder, an LSTM language model,
the pre-1.5 update `p.data.add_(-lr, p.grad)`, clip_grad_norm_, saving a whole
model and loading it back (weights_only's default refuses it), and sampling
with multinomial. Prints what tests/test_run_word_lm_apis.py checks."""

import io
import math
import sys
import warnings

import torch
import torch.nn.functional as F
import torch.onnx
from torch import nn

torch.manual_seed(0)
NTOKEN, NINP, BPTT, BSZ = 50, 16, 7, 4


class TinyTransformerLM(nn.Transformer):
    def __init__(self):
        super().__init__(d_model=NINP, nhead=2, dim_feedforward=32, num_encoder_layers=2)
        self.model_type = "Transformer"
        self.src_mask = None
        self.input_emb = nn.Embedding(NTOKEN, NINP)
        self.decoder = nn.Linear(NINP, NTOKEN)  # replaces nn.Transformer's decoder

    def forward(self, src, has_mask=True):
        if has_mask and (self.src_mask is None or self.src_mask.size(0) != len(src)):
            mask = (torch.triu(torch.ones(len(src), len(src))) == 1).transpose(0, 1)
            self.src_mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
        elif not has_mask:
            self.src_mask = None
        src = self.input_emb(src) * math.sqrt(NINP)
        return F.log_softmax(self.decoder(self.encoder(src, mask=self.src_mask)), dim=-1)


class TinyLSTMLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Embedding(NTOKEN, NINP)
        self.rnn = nn.LSTM(NINP, NINP, 2, dropout=0.2)
        self.decoder = nn.Linear(NINP, NTOKEN)

    def forward(self, x, hidden):
        out, hidden = self.rnn(self.encoder(x), hidden)
        return F.log_softmax(self.decoder(out).view(-1, NTOKEN), dim=1), hidden

    def init_hidden(self, bsz):
        w = next(self.parameters())
        return (w.new_zeros(2, bsz, NINP), w.new_zeros(2, bsz, NINP))


def train(model, data, lr, steps):
    criterion = nn.CrossEntropyLoss()
    model.train()
    hidden = None if isinstance(model, TinyTransformerLM) else model.init_hidden(BSZ)
    losses = []
    for step in range(steps):
        i = (step * BPTT) % (data.size(0) - BPTT - 1)
        x, y = data[i:i + BPTT], data[i + 1:i + 1 + BPTT].view(-1)
        model.zero_grad()
        if hidden is None:
            out = model(x)
        else:
            hidden = tuple(h.detach() for h in hidden)
            out, hidden = model(x, hidden)
        loss = criterion(out.view(-1, NTOKEN), y)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        for p in model.parameters():
            p.data.add_(-lr, p.grad.data)  # the deprecated overload
        losses.append(loss.item())
    print(f"norm type: {type(norm).__name__} {norm.dim()}")
    return losses


# A corpus with structure: token t is followed by (t * 7 + 3) % NTOKEN.
seq = [1]
for _ in range(BSZ * 120 - 1):
    seq.append((seq[-1] * 7 + 3) % NTOKEN)
data = torch.tensor(seq).type(torch.int64).view(BSZ, -1).t().contiguous()

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    lm = TinyTransformerLM()
    t_losses = train(lm, data, 1.0, 60)
    r = TinyLSTMLM()
    r_losses = train(r, data, 20.0, 60)
deprecations = [w for w in caught if "deprecated" in str(w.message)]
print("deprecation warnings:", len(deprecations))
print("deprecation message:", str(deprecations[0].message).split(" (Triggered")[0].replace("\n", "|"))
print(f"transformer loss: {t_losses[0]:.3f} -> {sum(t_losses[-5:]) / 5:.3f}")
print(f"lstm loss: {r_losses[0]:.3f} -> {sum(r_losses[-5:]) / 5:.3f}")
print("has decoder Linear:", isinstance(lm.decoder, nn.Linear), "encoder layers:", len(lm.encoder.layers))

# Saving the whole model; the default weights_only=True load refuses it.
for model in (lm, r):
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    try:
        torch.load(buf)
        print("default load: loaded")
    except Exception as e:  # noqa: BLE001
        line = next(ln for ln in str(e).splitlines() if "WeightsUnpickler error" in ln).strip()
        print(f"default load: {type(e).__name__}: {line}")
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    print("loaded type:", type(loaded).__name__, "same params:",
          all(torch.equal(a, b) for a, b in zip(model.parameters(), loaded.parameters())))

loaded.rnn.flatten_parameters()

# Or with weights_only=True, once every class in the file is allowlisted
# (`torch.serialization` is reachable after a bare `import torch`).
allow = {
    "TinyTransformerLM": [TinyTransformerLM, nn.TransformerEncoder, nn.ModuleList, nn.TransformerEncoderLayer,
                          nn.MultiheadAttention, nn.modules.linear.NonDynamicallyQuantizableLinear, nn.Linear,
                          nn.Dropout, nn.LayerNorm, F.relu, nn.Embedding],
    "TinyLSTMLM": [TinyLSTMLM, nn.Embedding, nn.LSTM, nn.Linear],
}
for model in (lm, r):
    buf = io.BytesIO()
    torch.save(model, buf)
    name = type(model).__name__
    buf.seek(0)
    try:
        with torch.serialization.safe_globals(allow[name][:-1]):
            torch.load(buf)
    except Exception as e:  # noqa: BLE001
        print(f"{name} short allowlist: {type(e).__name__}:", "Unsupported global" in str(e))
    buf.seek(0)
    with torch.serialization.safe_globals(allow[name]):
        print(f"{name} allowlisted load:", type(torch.load(buf)).__name__)

# Sampling as generate.py does, for both models.
lm.eval()
r.eval()
with torch.no_grad():
    hidden = r.init_hidden(1)
    inp = torch.randint(NTOKEN, (1, 1), dtype=torch.long)
    hits = 0
    for _ in range(30):
        output, hidden = r(inp, hidden)
        word_weights = output.squeeze().div(0.5).exp().cpu()
        word_idx = torch.multinomial(word_weights, 1)[0]
        hits += int(word_idx) == (int(inp) * 7 + 3) % NTOKEN
        inp.fill_(word_idx)
    print("lstm sampled follows:", hits)
    inp = torch.randint(NTOKEN, (1, 1), dtype=torch.long)
    for _ in range(10):
        output = lm(inp, False)
        word_weights = output[-1].squeeze().div(1.0).exp().cpu()
        word_idx = torch.multinomial(word_weights, 1)[0]
        word_tensor = torch.Tensor([[word_idx]]).long()
        inp = torch.cat([inp, word_tensor], 0)
    print("transformer sampled:", tuple(inp.shape), inp.dtype == torch.int64)
sys.exit(0)
