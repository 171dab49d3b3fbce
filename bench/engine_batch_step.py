"""Cost of one decode forward pass of the bundled model at batch sizes 1, 2, 4 and 8, in CPU time (steadier
than wall time on a shared machine), with and without the padding mask the decode batch uses.

    .venv/bin/python bench/engine_batch_step.py [--home DIR] [--threads 1] [--steps 16] [--context 100]

Loads the fp32 copy under DIR/models (converting the bundled GGUF there first if missing)."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe  # noqa: E402

from appliance.engines.config import EngineSettings  # noqa: E402
from appliance.engines.model_files import load_model  # noqa: E402


def step_cost(model, batch: int, steps: int, context: int, masked: bool) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """(CPU ms, wall ms) per decode step for `batch` rows of `context` cached tokens."""
    import torch

    ids = torch.randint(100, 1000, (batch, context))
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
        cache, mask = out.past_key_values, torch.ones(batch, context, dtype=torch.long)
        cpu, wall = time.process_time(), time.perf_counter()
        for _ in range(steps):
            token = out.logits[:, -1].argmax(-1, keepdim=True)
            extra = (
                {
                    "attention_mask": torch.cat([mask, torch.ones(batch, 1, dtype=torch.long)], 1),
                    "position_ids": mask.sum(1, keepdim=True),
                }
                if masked
                else {}
            )
            mask = torch.cat([mask, torch.ones(batch, 1, dtype=torch.long)], 1)
            out = model(input_ids=token, past_key_values=cache, use_cache=True, logits_to_keep=1, **extra)
            cache = out.past_key_values
    return (time.process_time() - cpu) / steps * 1000, (time.perf_counter() - wall) / steps * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--context", type=int, default=100)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp)
        model = load_model(EngineSettings(kind="transformers", model="smollm2-135m"), home).model
        rows = {}
        for batch in (1, 2, 4, 8):
            cpu, wall = step_cost(model, batch, args.steps, args.context, masked=False)
            cpu_masked, _ = step_cost(model, batch, args.steps, args.context, masked=True)
            rows[batch] = {
                "cpu_ms_per_step": round(cpu, 1),
                "cpu_ms_per_token": round(cpu / batch, 1),
                "cpu_ms_per_step_masked": round(cpu_masked, 1),
                "wall_ms_per_step": round(wall, 1),
            }
    print(
        json.dumps(
            {"machine": describe(), "threads": args.threads, "context": args.context, "batches": rows},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
