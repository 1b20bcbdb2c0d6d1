/** A sample ATOL v5 receipt: 3 items paid by card (the seed's first scenario), for the demo and tests. */

export function sampleReceipt(externalId: string, when = new Date()): Record<string, unknown> {
  const two = (n: number): string => String(n).padStart(2, '0');
  const timestamp = `${two(when.getDate())}.${two(when.getMonth() + 1)}.${when.getFullYear()} ${two(when.getHours())}:${two(when.getMinutes())}:${two(when.getSeconds())}`;
  const vat = when.getFullYear() >= 2026 ? 'vat22' : 'vat20';
  return {
    operation: 'sell',
    external_id: externalId,
    timestamp,
    receipt: {
      client: { email: 'client@example.ru' },
      company: { email: 'shop@example.ru', sno: 'osn', inn: '5010051677', payment_address: 'https://shop.example.ru' },
      items: [
        { name: 'Кофемолка', price: 1990.0, quantity: 1, measure: 0, sum: 1990.0, payment_method: 'full_payment', payment_object: 1, vat: { type: vat } },
        { name: 'Кофе в зёрнах 1 кг', price: 849.5, quantity: 2, measure: 0, sum: 1699.0, payment_method: 'full_payment', payment_object: 1, vat: { type: vat } },
        { name: 'Доставка', price: 300.0, quantity: 1, measure: 0, sum: 300.0, payment_method: 'full_payment', payment_object: 4, vat: { type: vat } },
      ],
      payments: [{ type: 1, sum: 3989.0 }],
      total: 3989.0,
    },
  };
}
