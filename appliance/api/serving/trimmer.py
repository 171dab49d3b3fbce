"""Post-processing of a code completion while it streams, with an early stop once the completion is over.

`appliance.prompts.postprocess_completion` decides what the editor inserts, from the whole text. Applied to
the complete lines seen so far it gives a prefix of that answer that only grows, except near the end (a line
that matches the text after the cursor may still be cut when the next line matches too), so the last lines
are held back until the generation ends. When the processed text stops short of the lines generated (the
block ended, or the completion reached the suffix), the generation is stopped: no point paying for tokens
that are cut."""

from __future__ import annotations

from collections.abc import Sequence

from appliance.prompts.languages import LanguageSpec
from appliance.prompts.postprocess import CompletionMode, postprocess_completion

HOLD_BACK_LINES = 2


class CompletionTrimmer:
    def __init__(
        self, *, prefix: str, suffix: str, language: LanguageSpec, mode: CompletionMode, stop: Sequence[str]
    ) -> None:
        self._prefix = prefix
        self._suffix = suffix
        self._language = language
        self._mode = mode
        self._stop = tuple(stop)
        self.raw = ""
        self.emitted = ""
        self.ended = False  # the completion is over: stop generating
        self._diverged = False  # the processed text no longer extends what was emitted

    def _process(self, text: str) -> str:
        return postprocess_completion(
            text,
            prefix=self._prefix,
            suffix=self._suffix,
            language=self._language,
            mode=self._mode,
            stop=self._stop,
        )

    def feed(self, text: str) -> str:
        """Add generated text; return what may be sent to the client now (often "")."""
        self.raw += text
        if self.ended:
            return ""
        newline = self.raw.rfind("\n")
        if newline < 0:
            return ""
        if self._mode == "single":
            self.ended = True  # one line is all single-line mode keeps
            return ""
        complete = self.raw[: newline + 1]
        processed = self._process(complete)
        complete_lines = complete.rstrip().count("\n") + 1 if complete.strip() else 0
        processed_lines = processed.count("\n") + 1 if processed else 0
        if processed and processed_lines < complete_lines:
            self.ended = True  # the cut fell inside what was generated: the rest is of no use
            return ""
        lines = processed.split("\n")
        if len(lines) <= HOLD_BACK_LINES:
            return ""
        # No trailing newline: it goes out with the next line, so a final cut right there stays consistent.
        return self._extend("\n".join(lines[:-HOLD_BACK_LINES]))

    def finish(self) -> str:
        """The rest of the final text, once the generation is over (streaming)."""
        return self._extend(self.result())

    def result(self) -> str:
        """What the editor inserts, from everything generated (non-streaming)."""
        return self._process(self.raw)

    def _extend(self, candidate: str) -> str:
        if self._diverged:
            return ""
        if not candidate.startswith(self.emitted):
            # Should not happen (see the module docstring); stay consistent with what the client has.
            self._diverged = True
            return ""
        out = candidate[len(self.emitted) :]
        self.emitted = candidate
        return out
