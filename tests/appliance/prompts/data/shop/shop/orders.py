"""Orders: a cart checked out for a customer in a country."""

from dataclasses import dataclass
from decimal import Decimal

from shop.cart import Cart
from shop.pricing import PriceList, tax_for


@dataclass
class Order:
    customer: str
    country: str
    cart: Cart

    def amount_due(self, prices: PriceList, discount: Decimal = Decimal("0")) -> Decimal:
        net = self.cart.total(prices, discount)
        return net + tax_for(self.country, net)
