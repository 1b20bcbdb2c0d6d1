/** Receipt bodies of receipt-format.md §7 (with the MQTT `operation`), fresh objects on every call. */

export type Json = Record<string, any>;

const company = { email: 'shop@shop.ru', sno: 'osn', inn: '5010051677', payment_address: 'https://shop.ru' };

function threeItems(method: string, vat: string): Json[] {
  return [
    { name: 'Кофемолка', price: 1990.0, quantity: 1, measure: 0, sum: 1990.0, payment_method: method, payment_object: 1, vat: { type: vat } },
    { name: 'Кофе в зёрнах 1 кг', price: 849.5, quantity: 2, measure: 0, sum: 1699.0, payment_method: method, payment_object: 1, vat: { type: vat } },
    { name: 'Доставка', price: 300.0, quantity: 1, measure: 0, sum: 300.0, payment_method: method, payment_object: 4, vat: { type: vat } },
  ];
}

/** (a) 3 items, 100 % prepayment by card, 2025 (vat120). */
export function exampleA(): Json {
  return {
    operation: 'sell',
    timestamp: '05.03.2025 12:05:31',
    external_id: 'order-1001-prepay',
    receipt: {
      client: { email: 'client@client.ru' },
      company: { ...company },
      items: threeItems('full_prepayment', 'vat120'),
      payments: [{ type: 1, sum: 3989.0 }],
      vats: [{ type: 'vat120', sum: 664.83 }],
      total: 3989.0,
    },
  };
}

/** (b) at handover: full settlement, vat20, offset of the prepayment. */
export function exampleB(): Json {
  const b = exampleA();
  b.external_id = 'order-1001-final';
  b.receipt.items = threeItems('full_payment', 'vat20');
  b.receipt.payments = [{ type: 2, sum: 3989.0 }];
  delete b.receipt.vats;
  return b;
}

/** (c) sell_refund of the coffee before shipment. */
export function exampleC(): Json {
  const c = exampleA();
  c.operation = 'sell_refund';
  c.external_id = 'order-1001-refund';
  c.receipt.items = [{
    name: 'Кофе в зёрнах 1 кг', price: 849.5, quantity: 2, measure: 0, sum: 1699.0,
    payment_method: 'full_prepayment', payment_object: 1, vat: { type: 'vat120', sum: 283.17 },
  }];
  c.receipt.payments = [{ type: 1, sum: 1699.0 }];
  c.receipt.total = 1699.0;
  delete c.receipt.vats;
  return c;
}

/** (d) sell_correction. */
export function exampleD(): Json {
  return {
    operation: 'sell_correction',
    timestamp: '03.06.2020 12:05:31',
    external_id: '892924433234522512289444',
    correction: {
      company: { email: 'email@ofd.ru', sno: 'osn', inn: '5010051677', payment_address: 'shop-url.ru' },
      correction_info: { type: 'self', base_date: '23.11.2020', base_number: '123/46533' },
      items: [{ name: 'Товар', price: 120, quantity: 1.0, measure: 0, sum: 120, payment_method: 'full_payment', payment_object: 1, vat: { type: 'vat20', sum: 20.0 } }],
      payments: [{ type: 1, sum: 120.0 }],
      vats: [{ type: 'vat20', sum: 20.0 }],
      cashier: 'кассир',
      cashier_inn: '887405485310',
      total: 120.0,
    },
  };
}

/** 2026: 3-item card prepayment at 22/122, as Bitrix sends it (no VAT sums, phone without "+", measure null). */
export function prepay2026(): Json {
  const r = exampleA();
  r.timestamp = '28.11.2026 10:15:00';
  r.external_id = 'order-1017/payment-1';
  r.receipt.items = threeItems('full_prepayment', 'vat122');
  r.receipt.items[0].measure = null;
  r.receipt.client = { email: '', phone: '9251234567' };
  delete r.receipt.vats;
  return r;
}

export const body = (o: unknown): string => JSON.stringify(o);
