// Client-side cart badge: shows the number of items in the cart.

export function countItems(lines) {
  let count = 0;
  for (const line of lines) {
    count += line.quantity;
  }
  return count;
}

export function renderBadge(element, lines) {
  const count = countItems(lines);
  element.textContent = count > 99 ? "99+" : String(count);
  element.hidden = count === 0;
}
