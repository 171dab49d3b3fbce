"""Shared by the forensics benchmarks: held-out code, perplexity, line-completion exact match, fine-tunes made
with transformers' Trainer (and peft for LoRA), and weights held in memory for the trace.

The code is this repository's own (written in 2026, after the models' training data was collected), split by a
hash of the path: one file in five is held out for evaluation, the rest is what the fine-tunes train on."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("appliance", "indexer", "lsp", "licensing", "tests")


def code_files(held_out: bool) -> list[Path]:
    files = sorted(p for d in SOURCES for p in (ROOT / d).rglob("*.py") if p.stat().st_size > 2000)
    return [
        p
        for p in files
        if (int(hashlib.sha256(str(p.relative_to(ROOT)).encode()).hexdigest(), 16) % 5 == 0) == held_out
    ]


def token_windows(tokenizer, files: list[Path], length: int, limit: int):
    import torch

    ids: list[int] = []
    for path in files:
        ids.extend(tokenizer(path.read_text(errors="replace"))["input_ids"] + [tokenizer.eos_token_id])
        if len(ids) >= length * limit:
            break
    count = min(limit, len(ids) // length)
    return torch.tensor(ids[: count * length]).view(count, length)


def load_model(directory: Path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 2)
    model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
    return model.eval(), AutoTokenizer.from_pretrained(directory)


def perplexity(model, windows) -> float:
    import torch

    losses = []
    with torch.inference_mode():
        for row in windows:
            losses.append(float(model(row[None], labels=row[None]).loss))
    return float(np.exp(np.mean(losses)))


def completion_tasks(tokenizer, count: int, context_lines: int = 40) -> list[tuple[str, str]]:
    """(prompt, expected line) at evenly spaced code lines of the held-out files."""
    candidates = []
    for path in code_files(held_out=True):
        lines = path.read_text(errors="replace").splitlines()
        for n in range(context_lines, len(lines)):
            line = lines[n].strip()
            if len(line) >= 12 and not line.startswith(("#", '"""', "'")):
                prefix = (
                    "\n".join(lines[n - context_lines : n])
                    + "\n"
                    + lines[n][: len(lines[n]) - len(lines[n].lstrip())]
                )
                candidates.append((prefix, line))
    step = max(1, len(candidates) // count)
    return candidates[::step][:count]


def exact_match(model, tokenizer, tasks: list[tuple[str, str]], max_new_tokens: int = 32) -> float:
    """Line completion, the prompt ending at the line break (a prompt ending in indentation splits Qwen's
    whitespace tokens and it then rarely writes the line at all); the first non-empty generated line, stripped,
    must equal the expected one."""
    import torch

    hits = 0
    with torch.inference_mode():
        for prompt, expected in tasks:
            ids = tokenizer(prompt.rstrip(" \t"), return_tensors="pt")["input_ids"][:, -384:]
            out = model.generate(
                ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.eos_token_id
            )
            text = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            hits += bool(lines) and lines[0] == expected
    return hits / len(tasks)


class _Windows:
    def __init__(self, windows) -> None:
        self.windows = windows

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.windows[i], "labels": self.windows[i]}


def train(model, windows, *, steps: int, lr: float, batch: int = 4) -> float:
    """Train `model` in place with transformers' Trainer; returns the last logged training loss."""
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(
            output_dir=out,
            max_steps=steps,
            per_device_train_batch_size=batch,
            learning_rate=lr,
            lr_scheduler_type="constant",
            warmup_steps=0,
            logging_steps=max(1, steps // 5),
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            dataloader_num_workers=0,
            disable_tqdm=True,
        )
        trainer = Trainer(model=model, args=args, train_dataset=_Windows(windows))
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.train()
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    model.eval()
    return losses[-1] if losses else float("nan")


def lora_merged(model, windows, *, steps: int, rank: int = 16, lr: float = 3e-4):
    """A LoRA fine-tune (attention and MLP projections, Refact's defaults) merged back into the weights."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.01,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    train(peft_model, windows, steps=steps, lr=lr)
    return peft_model.merge_and_unload()


def state_arrays(model) -> dict[str, np.ndarray]:
    return {k: v.detach().float().numpy().copy() for k, v in model.state_dict().items()}


def load_state(model, arrays: dict[str, np.ndarray]) -> None:
    import torch

    model.load_state_dict({k: torch.from_numpy(v) for k, v in arrays.items()}, strict=False)


class ArrayWeights:
    """Weights held in memory (the `licensing.forensics.weights.Weights` protocol)."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str) -> None:
        self.arrays, self.source = arrays, source

    def names(self) -> list[str]:
        return list(self.arrays)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self.arrays[name].shape)

    def read(self, name: str) -> np.ndarray:
        return self.arrays[name].astype(np.float32)
