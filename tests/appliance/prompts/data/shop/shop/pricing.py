"""Prices, discounts and taxes for the shop."""

from decimal import Decimal

TAX_RATES = {"FR": Decimal("0.20"), "DE": Decimal("0.19"), "US": Decimal("0.00")}


def apply_discount(price: Decimal, rate: Decimal) -> Decimal:
    """Return the price after a discount rate between 0 and 1."""
    if not 0 <= rate <= 1:
        raise ValueError(f"discount rate {rate} is not between 0 and 1")
    return (price * (1 - rate)).quantize(Decimal("0.01"))


def tax_for(country: str, amount: Decimal) -> Decimal:
    """The tax owed on an amount sold to a country."""
    return (amount * TAX_RATES.get(country, Decimal("0"))).quantize(Decimal("0.01"))


class PriceList:
    """Unit prices by product code."""

    def __init__(self, prices: dict[str, Decimal]) -> None:
        self.prices = dict(prices)

    def price_of(self, code: str) -> Decimal:
        try:
            return self.prices[code]
        except KeyError:
            raise KeyError(f"unknown product {code}") from None
