"""Licensing fixtures: a real vendor (keys, sealed tiny model), a real appliance state directory, a clock and a
machine fingerprint the test controls. Nothing is mocked: every signature, wrap and chunk is real."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from licensing.keys import TrustStore
from licensing.service import LicenseService
from licensing.vendor import VendorKeyring

DAY = 86400
T0 = int(time.time())

MACHINE = {
    "machine_id": "3d1219c7c4c5404aaa1f6d2a48adfda4",
    "dmi_product_uuid": "4c4c4544-0042-3510-8052-b4c04f4e3332",
    "dmi_board_serial": "BSN12345",
    "dmi_board_name": "X11DPi-NT",
    "cpu_model": "AMD EPYC 7763 64-Core Processor",
}


@dataclass
class Clock:
    now: int = T0

    def __call__(self) -> float:
        return float(self.now)


@dataclass
class World:
    tmp: Path
    vendor: VendorKeyring
    trust: TrustStore
    state_dir: Path
    clock: Clock
    machine: dict[str, str] = field(default_factory=lambda: dict(MACHINE))

    def service(self) -> LicenseService:
        """A fresh service over the same state directory, as a new process would create."""
        return LicenseService(
            self.state_dir, trust=self.trust, clock=self.clock, fingerprint=lambda: dict(self.machine)
        )

    def activate(
        self,
        *,
        models: tuple[str, ...] = ("tiny",),
        seats: int = 3,
        days: int = 365,
        issued_at: int | None = None,
        **kwargs,
    ) -> str:
        service = self.service()
        request = service.request_activation()
        text = self.vendor.issue(
            request,
            customer="Example GmbH",
            seats=seats,
            days=days,
            models=list(models),
            now=self.clock.now if issued_at is None else issued_at,
            **kwargs,
        )
        service.activate(text)
        return text

    def snapshot(self) -> dict[str, bytes]:
        return self.service().store.snapshot()


def make_tiny_model(directory: Path, n_tensors: int = 4) -> Path:
    """A small safetensors model (~200 KB) written by the real safetensors library, plus plain config files."""
    import torch
    from safetensors.torch import save_file

    directory.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    tensors = {f"layer.{i}.weight": torch.randn(64, 96 + i, generator=generator) for i in range(n_tensors)}
    tensors["layer.bias"] = torch.arange(17, dtype=torch.float16)
    tensors["positions"] = torch.arange(33, dtype=torch.int64)
    save_file(tensors, directory / "model.safetensors", metadata={"format": "pt"})
    (directory / "config.json").write_text(json.dumps({"model_type": "tiny"}))
    (directory / "tokenizer.json").write_text(json.dumps({"version": "1.0"}))
    return directory


@pytest.fixture
def world(tmp_path: Path) -> World:
    vendor = VendorKeyring.generate(
        tmp_path / "vendor", name="Test Vendor", now=T0 - 800 * DAY, issuer_days=1600
    )
    trust = vendor.trust()
    model = make_tiny_model(tmp_path / "tiny-plain")
    vendor.seal(model, tmp_path / "tiny-sealed", model_id="tiny", now=T0 - DAY, chunk_size=16384)
    other = make_tiny_model(tmp_path / "other-plain", n_tensors=2)
    vendor.seal(other, tmp_path / "other-sealed", model_id="other", now=T0 - DAY, chunk_size=16384)
    return World(tmp_path, vendor, trust, tmp_path / "home" / "license", Clock())


@pytest.fixture
def activated(world: World) -> World:
    world.activate()
    return world
