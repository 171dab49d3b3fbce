"""Post-processing for streamed completions: emit text as soon as it is final, and say when the block has ended
so the caller can stop generating.

Before the end only whole lines are judged (the block-end rules work line by line); a line that could be the
start of the suffix repeated is held back until the next line decides. In single-line mode nothing is final
before the line ends. Whatever is emitted is a prefix of what `postprocess_completion` returns for the whole
text, except in the rare case where the end turns the whole completion into a repetition (text already sent
cannot be taken back)."""

from __future__ import annotations

from typing import Sequence

from appliance.prompts.languages import LanguageSpec, get_language
from appliance.prompts.postprocess import CompletionMode, cut_at_stops, postprocess_completion


class CompletionStream:
    def __init__(self, *, prefix: str, suffix: str, language: LanguageSpec | str | None, mode: CompletionMode,
                 stop: Sequence[str] = ()) -> None:
        self._prefix, self._suffix, self._mode, self._stop = prefix, suffix, mode, tuple(stop)
        self._lang = language if isinstance(language, LanguageSpec) else get_language(language)
        self._head = next((line.strip() for line in suffix.split("\n") if line.strip()), None)
        self._raw = ""
        self._sent = ""
        self.finished = False  # the completion is over (stop token, line end, block end): stop generating

    @property
    def text(self) -> str:
        return self._sent

    def _final(self, raw: str) -> str:
        return postprocess_completion(raw, prefix=self._prefix, suffix=self._suffix, language=self._lang,
                                      mode=self._mode, stop=self._stop)

    def _emit(self, stable: str) -> str:
        if not stable.startswith(self._sent):
            return ""
        delta = stable[len(self._sent):]
        self._sent = stable
        return delta

    def feed(self, chunk: str) -> str:
        """Add generated text; return the part of it that is now final (often "")."""
        if self.finished:
            return ""
        self._raw += chunk
        stopped = cut_at_stops(self._raw, self._stop)
        if len(stopped) < len(self._raw) or (self._mode == "single" and "\n" in self._raw):
            self.finished = True
            return self._emit(self._final(self._raw))
        if self._mode == "single":
            return ""
        end = self._raw.rfind("\n")
        if end < 0:
            return ""
        lines = self._raw[:end].split("\n")
        candidate = "\n".join(lines)
        stable = self._final(candidate) if candidate.strip() else ""
        if stable and len(stable.rstrip()) < len(candidate.rstrip()):
            self.finished = True  # a rule cut inside whole lines: the block has ended
            return self._emit(stable)
        if self._head is not None and lines[-1].strip() == self._head:
            # The suffix may be starting again here: the next line decides, so this one waits.
            held = "\n".join(lines[:-1])
            stable = self._final(held) if held.strip() else ""
        return self._emit(stable)

    def finish(self) -> str:
        """The generation ended: return the rest of the final text."""
        self.finished = True
        return self._emit(self._final(self._raw))


__all__ = ["CompletionStream"]
