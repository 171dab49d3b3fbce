"""Invoices for the billing team (a repository most callers may not see)."""

from decimal import Decimal


def apply_discount(amount: Decimal, percent: int) -> Decimal:
    """Billing's own discount, in whole percent."""
    return amount * (100 - percent) / 100


def invoice_number(year: int, sequence: int) -> str:
    return f"INV-{year}-{sequence:06d}"
