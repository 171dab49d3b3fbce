"""A shopping cart: lines of product codes and quantities."""

from dataclasses import dataclass, field
from decimal import Decimal

from shop.pricing import PriceList, apply_discount


@dataclass
class CartLine:
    code: str
    quantity: int


@dataclass
class Cart:
    lines: list[CartLine] = field(default_factory=list)

    def add(self, code: str, quantity: int = 1) -> None:
        for line in self.lines:
            if line.code == code:
                line.quantity += quantity
                return
        self.lines.append(CartLine(code, quantity))

    def subtotal(self, prices: PriceList) -> Decimal:
        return sum((prices.price_of(l.code) * l.quantity for l in self.lines), Decimal("0"))

    def total(self, prices: PriceList, discount: Decimal = Decimal("0")) -> Decimal:
        return apply_discount(self.subtotal(prices), discount)
