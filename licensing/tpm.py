"""Sealing a small secret to this machine's TPM 2.0, through `tpm2-pytss` (the TCG's ESAPI).

The secret becomes a keyed-hash object under the TPM's storage primary key (the TCG's standard ECC P-256
"SRK" template, recreated from the owner hierarchy's seed on every use, so nothing is persisted in the TPM).
What goes to disk is the object's public part and its private part encrypted by the TPM under that primary:
only the TPM that made it can load it, so a copied disk carries nothing usable. With PCRs the object also
carries a policy: it unseals only while those PCRs hold the values they held at sealing (firmware, boot
loader or Secure Boot state unchanged; see docs/licensing.md for what an update does).

`tpm2-pytss` is an optional dependency (`codemoat[tpm]`; it builds against the system's libtss2). It is
imported here only, when a TPM is used, so `licensing` still installs with `cryptography` alone."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

from licensing.encoding import b64d, b64e
from licensing.errors import TpmError, TpmUnavailable

__all__ = ["DEFAULT_TCTI", "Sealer", "TpmSealer", "parse_pcrs", "tpm_library_available"]

DEFAULT_TCTI = "device:/dev/tpmrm0"
_PCR_BANK = "sha256"
_TIMEOUT_S = 15.0
_T = TypeVar("_T")


class Sealer(Protocol):
    """Binds a secret of up to 128 bytes to one machine; `unseal` gives it back only there."""

    def describe(self) -> str: ...

    def available(self) -> bool:
        """False when there is no TPM; raises `TpmError` for one that is there but busy or refusing."""
        ...

    def seal(self, secret: bytes, pcrs: tuple[int, ...]) -> dict[str, Any]: ...

    def unseal(self, record: dict[str, Any]) -> bytes: ...


def tpm_library_available() -> bool:
    try:
        import tpm2_pytss  # noqa: F401
    except ImportError:
        return False
    return True


def parse_pcrs(text: str) -> tuple[int, ...]:
    """ "0,7" -> (0, 7); "" -> (). PCRs 0-23 exist on every TPM 2.0 with a SHA-256 bank."""
    pcrs: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit() or not 0 <= int(part) <= 23:
            raise TpmError(f"PCR {part!r} is not a PCR number from 0 to 23")
        pcrs.add(int(part))
    return tuple(sorted(pcrs))


class TpmSealer:
    """A TPM reached through a TCTI: `device:/dev/tpmrm0` (the kernel's resource manager), `swtpm:host=...,
    port=...` (a software TPM), `tabrmd:` and the others libtss2 knows."""

    def __init__(self, tcti: str = DEFAULT_TCTI, timeout_s: float = _TIMEOUT_S) -> None:
        name, _, config = tcti.partition(":")
        self.tcti = tcti
        self._name, self._config = name, config
        self._timeout_s = timeout_s

    def describe(self) -> str:
        return self.tcti

    def available(self) -> bool:
        """A TPM answers at this interface (and the library to speak to it is installed). False only when
        there is none: a busy or misnamed one raises, so `auto` never quietly falls back to files."""
        if not tpm_library_available():
            return False
        if self._name == "device" and not Path(self._config or "/dev/tpmrm0").exists():
            return False
        try:
            self._session(lambda esys: esys.get_random(8))
        except TpmUnavailable:
            return False
        return True

    def seal(self, secret: bytes, pcrs: tuple[int, ...]) -> dict[str, Any]:
        if not 0 < len(secret) <= 128:
            raise TpmError(f"a TPM seals 1 to 128 bytes, not {len(secret)}")

        def run(esys: Any) -> dict[str, Any]:
            from tpm2_pytss import TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPM2B_SENSITIVE_DATA, TPMA_OBJECT

            attributes = TPMA_OBJECT.FIXEDTPM | TPMA_OBJECT.FIXEDPARENT | TPMA_OBJECT.NODA
            public = TPM2B_PUBLIC.parse("keyedhash", objectAttributes=attributes)
            if pcrs:
                public.publicArea.authPolicy = self._pcr_policy(esys, pcrs, trial=True)
            else:
                public.publicArea.objectAttributes |= TPMA_OBJECT.USERWITHAUTH
            sensitive = TPM2B_SENSITIVE_CREATE()
            sensitive.sensitive.data = TPM2B_SENSITIVE_DATA(secret)
            primary = self._primary(esys)
            try:
                private, public_out, *_ = esys.create(primary, sensitive, public)
            finally:
                esys.flush_context(primary)
            return {
                "tcti": self.tcti,
                "pcr_bank": _PCR_BANK,
                "pcrs": list(pcrs),
                "public": b64e(bytes(public_out.marshal())),
                "private": b64e(bytes(private.marshal())),
            }

        return self._session(run)

    def unseal(self, record: dict[str, Any]) -> bytes:
        from tpm2_pytss import TPM2B_PRIVATE, TPM2B_PUBLIC

        try:
            public = TPM2B_PUBLIC.unmarshal(b64d(record["public"], "sealed public part"))[0]
            private = TPM2B_PRIVATE.unmarshal(b64d(record["private"], "sealed private part"))[0]
            pcrs = tuple(int(p) for p in record.get("pcrs", []))
        except Exception as exc:  # a field missing, not base64, or not a TPM structure
            raise TpmError(
                f"the TPM-sealed device keys are damaged ({exc}); restore them with `codemoat license tpm bind "
                "--restore` from the escrow copy"
            ) from None

        def run(esys: Any) -> bytes:
            from tpm2_pytss import ESYS_TR

            primary = self._primary(esys)
            try:
                handle = esys.load(primary, private, public)
            finally:
                esys.flush_context(primary)
            policy = ESYS_TR.PASSWORD
            try:
                if pcrs:
                    policy = self._pcr_policy(esys, pcrs, trial=False)
                return bytes(esys.unseal(handle, session1=policy))
            finally:
                if pcrs and policy != ESYS_TR.PASSWORD:
                    esys.flush_context(policy)
                esys.flush_context(handle)

        return self._session(run)

    # --- ESAPI -------------------------------------------------------------------------------------------

    def _session(self, work: Callable[[Any], _T]) -> _T:
        """Run `work(esys)` on a fresh connection, in a worker thread: libtss2's synchronous calls block
        without a timeout while another client holds the TPM, and a busy TPM must be a reason, not a hang."""
        os.environ.setdefault("TSS2_LOG", "all+none")  # libtss2 logs every TPM error on stderr otherwise
        try:
            from tpm2_pytss import ESAPI, TCTILdr
        except ImportError:
            raise TpmUnavailable(
                "this appliance's keys are configured for a TPM but tpm2-pytss is not installed; install "
                "the appliance with its [tpm] extra (it needs the system's libtss2: apt install libtss2-dev)"
            ) from None
        outcome: dict[str, Any] = {}

        def target() -> None:
            try:
                with ESAPI(TCTILdr(self._name, self._config or None)) as esys:
                    outcome["value"] = work(esys)
            except BaseException as exc:  # handed to the caller's thread below
                outcome["error"] = exc

        worker = threading.Thread(target=target, name="tpm", daemon=True)
        worker.start()
        worker.join(self._timeout_s)
        if worker.is_alive():
            raise TpmError(
                f"the TPM at {self.tcti} did not answer within {self._timeout_s:.0f} s: it is busy (another "
                "program holds it); try again, or find the program with `fuser` on the TPM device"
            )
        if "error" in outcome:
            raise self._reason(outcome["error"]) from None
        return outcome["value"]

    @staticmethod
    def _primary(esys: Any) -> Any:
        from tpm2_pytss import ESYS_TR, TPM2B_PUBLIC, TPM2B_SENSITIVE_CREATE, TPMA_OBJECT

        attributes = (
            TPMA_OBJECT.USERWITHAUTH
            | TPMA_OBJECT.RESTRICTED
            | TPMA_OBJECT.DECRYPT
            | TPMA_OBJECT.FIXEDTPM
            | TPMA_OBJECT.FIXEDPARENT
            | TPMA_OBJECT.SENSITIVEDATAORIGIN
            | TPMA_OBJECT.NODA
        )
        template = TPM2B_PUBLIC.parse("ecc256:aes128cfb", objectAttributes=attributes)
        handle, *_ = esys.create_primary(TPM2B_SENSITIVE_CREATE(), template, ESYS_TR.OWNER)
        return handle

    @staticmethod
    def _pcr_policy(esys: Any, pcrs: tuple[int, ...], *, trial: bool) -> Any:
        """A trial session yields the policy digest to seal under; a real one satisfies it for unsealing."""
        from tpm2_pytss import ESYS_TR, TPM2_ALG, TPM2_SE, TPM2B_DIGEST, TPML_PCR_SELECTION, TPMT_SYM_DEF

        session = esys.start_auth_session(
            tpm_key=ESYS_TR.NONE,
            bind=ESYS_TR.NONE,
            session_type=TPM2_SE.TRIAL if trial else TPM2_SE.POLICY,
            symmetric=TPMT_SYM_DEF(algorithm=TPM2_ALG.NULL),
            auth_hash=TPM2_ALG.SHA256,
        )
        selection = TPML_PCR_SELECTION.parse(f"{_PCR_BANK}:{','.join(str(p) for p in pcrs)}")
        esys.policy_pcr(session, TPM2B_DIGEST(), selection)
        if not trial:
            return session
        try:
            return esys.policy_get_digest(session)
        finally:
            esys.flush_context(session)

    def _reason(self, exc: BaseException) -> Exception:
        if isinstance(exc, TpmError):
            return exc
        try:
            from tpm2_pytss import TSS2_Exception
            from tpm2_pytss.constants import TPM2_RC, TSS2_RC
        except ImportError:  # pragma: no cover - imported above already
            return TpmError(f"the TPM at {self.tcti} failed: {exc}")
        if not isinstance(exc, TSS2_Exception):
            return TpmError(f"the TPM at {self.tcti} failed: {exc}")
        error = exc.error
        if error in (TSS2_RC.TCTI_RC_IO_ERROR, TSS2_RC.TCTI_RC_NO_CONNECTION):
            return TpmUnavailable(
                f"no TPM answers at {self.tcti}: it is absent, disabled in the firmware, or this user may not "
                "open it (the appliance's user needs the tss group)"
            )
        if error in (TSS2_RC.TCTI_RC_NOT_SUPPORTED, TSS2_RC.TCTI_RC_BAD_VALUE):
            return TpmError(f"TPM interface {self.tcti!r} is not one libtss2 knows (e.g. {DEFAULT_TCTI})")
        if error == TPM2_RC.INTEGRITY:
            return TpmError(
                f"the TPM at {self.tcti} refuses the sealed device keys (integrity check failed): they were "
                "sealed by another TPM (a state directory copied from another machine does not run here) or "
                "this TPM was cleared since (restore them with `codemoat license tpm bind --restore`)"
            )
        if error == TPM2_RC.POLICY_FAIL:
            return TpmError(
                f"the TPM at {self.tcti} refuses to unseal the device keys: the PCRs they are bound to changed "
                "(firmware, boot loader or Secure Boot update); restore them with `codemoat license tpm bind "
                "--restore` from the escrow copy"
            )
        if error in (TPM2_RC.RETRY, TPM2_RC.YIELDED, TPM2_RC.TESTING, TPM2_RC.NV_RATE):
            return TpmError(f"the TPM at {self.tcti} is busy ({exc}); try again in a moment")
        if error == TPM2_RC.LOCKOUT:
            return TpmError(
                f"the TPM at {self.tcti} is in dictionary-attack lockout; wait for it to recover or reset "
                "it with its lockout authorization"
            )
        return TpmError(f"the TPM at {self.tcti} refused: {exc}")
