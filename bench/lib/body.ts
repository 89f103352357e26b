// The workload every variant serves: 100 item ids, each with its own JSON body
// of exactly ITEM_BODY_BYTES bytes, deterministic so the parent can check replays.

import type { Response } from 'express';

/** Size of every item body in bytes (a typical ~2 KB JSON answer). */
export const ITEM_BODY_BYTES = 2048;

/** The 100 distinct ids the load generator cycles through. */
export const ITEM_IDS: readonly string[] = Array.from({ length: 100 }, (_, index) => String(index + 1));

const FILLER = 'A sturdy, well-reviewed product that ships in two days and fits most standard setups. '.repeat(40);

/** The JSON text served for one item id, padded to exactly ITEM_BODY_BYTES. */
export function itemJson(id: string): string {
  const n = Number(id) || 0;
  const item = {
    id,
    sku: `SKU-${id.padStart(6, '0')}`,
    name: `Item ${id}`,
    price: { amount: 1000 + n * 37, currency: 'EUR' },
    stock: (n * 7919) % 500,
    tags: ['catalog', `group-${n % 10}`, n % 2 === 0 ? 'even' : 'odd'],
    dimensions: { widthMm: 100 + n, heightMm: 50 + n, depthMm: 20 + (n % 13) },
    reviews: [
      { user: `u${n}`, stars: 1 + (n % 5), text: 'Does what it says.' },
      { user: `v${n}`, stars: 1 + ((n + 2) % 5), text: 'Arrived on time, works well.' },
    ],
    description: '',
  };
  const withoutDescription = JSON.stringify(item).length;
  item.description = FILLER.slice(0, ITEM_BODY_BYTES - withoutDescription);
  const json = JSON.stringify(item);
  if (Buffer.byteLength(json) !== ITEM_BODY_BYTES) {
    throw new Error(`item ${id}: body is ${Buffer.byteLength(json)} bytes, expected ${ITEM_BODY_BYTES}`);
  }
  return json;
}

/** The path the load generator requests for one id. */
export function itemPath(id: string): string {
  return `/item/${id}`;
}

/** Sends a precomputed item body with res.end (the least Express can do), or 404 when there is none. */
export function sendItemBody(res: Response, body: Buffer | null | undefined): void {
  if (!body) {
    res.status(404).end();
    return;
  }
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
