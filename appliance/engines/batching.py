"""The decode batch: every running request advances by one token per model forward pass.

On CPU a forward pass over a handful of rows costs little more than over one (the weights are read once), so
batching the decode of concurrent requests multiplies throughput. Requests join after their own prefill: their
KV cache is left-padded to the batch's length and an attention mask hides the padding; finished or cancelled
rows leave, and padding every remaining row shares is cut off."""

from __future__ import annotations

from typing import Any

from appliance.engines.generation import Sequence


class DecodeBatch:
    def __init__(self) -> None:
        self.sequences: list[Sequence] = []
        self._cache: Any = None  # transformers DynamicCache, rows in the order of `sequences`
        self._mask: Any = None  # LongTensor [rows, cached positions]: 1 for a real token, 0 for padding

    def __len__(self) -> int:
        return len(self.sequences)

    def add(self, sequence: Sequence, cache: Any) -> None:
        import torch

        length = cache.get_seq_length()
        row_mask = torch.ones(1, length, dtype=torch.long)
        if not self.sequences:
            self.sequences, self._cache, self._mask = [sequence], cache, row_mask
            return
        total = max(self._mask.shape[1], length)
        pad_batch, pad_row = total - self._mask.shape[1], total - length
        for mine, theirs in zip(self._cache.layers, cache.layers, strict=True):
            mine.keys = torch.cat([_left_pad(mine.keys, pad_batch), _left_pad(theirs.keys, pad_row)])
            mine.values = torch.cat([_left_pad(mine.values, pad_batch), _left_pad(theirs.values, pad_row)])
        self._mask = torch.cat([_left_pad(self._mask, pad_batch), _left_pad(row_mask, pad_row)])
        self.sequences.append(sequence)

    def step(self, model: Any) -> int:
        """One forward pass for every live row; return the number of tokens produced."""
        import torch

        self._drop([i for i, s in enumerate(self.sequences) if s.cancelled.is_set()])
        if not self.sequences:
            return 0
        input_ids = torch.tensor([[s.last_token] for s in self.sequences], dtype=torch.long)
        mask = torch.cat([self._mask, torch.ones(len(self.sequences), 1, dtype=torch.long)], dim=1)
        # Without padding the model derives positions from the cache length, exactly as for a lone request.
        extra = (
            {}
            if bool(self._mask.all())
            else {
                "attention_mask": mask,
                "position_ids": self._mask.sum(dim=1, keepdim=True),
            }
        )
        with torch.inference_mode():
            out = model(
                input_ids=input_ids, past_key_values=self._cache, use_cache=True, logits_to_keep=1, **extra
            )
        self._cache, self._mask = out.past_key_values, mask
        produced = sum(s.accept(out.logits[i, -1]) for i, s in enumerate(self.sequences))
        self._drop([i for i, s in enumerate(self.sequences) if s.finished])
        return produced

    def fail(self, error: BaseException) -> None:
        for sequence in self.sequences:
            sequence.fail(error)
        self.sequences, self._cache, self._mask = [], None, None

    def _drop(self, rows: list[int]) -> None:
        import torch

        if not rows:
            return
        for i in rows:
            self.sequences[i].release()
        keep = [i for i in range(len(self.sequences)) if i not in set(rows)]
        self.sequences = [self.sequences[i] for i in keep]
        if not keep:
            self._cache, self._mask = None, None
            return
        index = torch.tensor(keep, dtype=torch.long)
        self._cache.batch_select_indices(index)
        self._mask = self._mask[index]
        shared_padding = int((self._mask.cumsum(dim=1) == 0).sum(dim=1).min())
        if shared_padding:
            for layer in self._cache.layers:
                layer.keys = layer.keys[..., shared_padding:, :]
                layer.values = layer.values[..., shared_padding:, :]
            self._mask = self._mask[:, shared_padding:]


def _left_pad(tensor: Any, count: int) -> Any:
    """Zeros before the sequence axis (dim -2 for [batch, heads, seq, dim] caches, -1 for masks)."""
    import torch

    if count == 0:
        return tensor
    if tensor.dim() == 2:
        return torch.cat([tensor.new_zeros(tensor.shape[0], count), tensor], dim=1)
    shape = list(tensor.shape)
    shape[-2] = count
    return torch.cat([tensor.new_zeros(shape), tensor], dim=-2)
