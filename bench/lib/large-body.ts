// The compression suite's workload: 100 ids, each with its own ~20 KB JSON
// body (a product page with related products), deterministic, and about as
// compressible as real catalogue JSON: repeated field names, varied values
// and text drawn from a vocabulary rather than one repeated sentence.

/** Size of every large body in bytes. */
export const LARGE_BODY_BYTES = 20_480;

const WORDS = (
  'sturdy light compact durable quiet fast wireless steel oak cotton wool leather recycled matte glossy ' +
  'black white grey navy olive sand amber coral teal graphite walnut maple bamboo linen canvas ' +
  'ships fits folds stacks charges lasts cleans stores travels mounts adjusts connects heats cools ' +
  'kitchen office garden outdoor travel studio workshop bathroom nursery garage balcony hallway ' +
  'easy daily premium classic modern essential everyday professional portable refillable washable ' +
  'with without for and the a in on under over two three four small large extra standard ' +
  'warranty delivery returns assembly battery cable handle lid strap pocket drawer shelf hook ' +
  'reviewers say it works well arrived early looks great smaller than expected solid value'
).split(' ');

/** A small deterministic generator (LCG), so every run serves the same bytes. */
function randomSource(seed: number): () => number {
  let state = (seed * 2654435761) >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 0x1_0000_0000;
  };
}

function sentence(next: () => number, words: number): string {
  const out: string[] = [];
  for (let i = 0; i < words; i++) out.push(WORDS[Math.floor(next() * WORDS.length)] as string);
  return out.join(' ');
}

/** The JSON text served for one id, exactly LARGE_BODY_BYTES long. */
export function largeItemJson(id: string): string {
  const n = Number(id) || 0;
  const next = randomSource(n + 1);
  const page = {
    id,
    sku: `SKU-${id.padStart(6, '0')}`,
    name: `Item ${id}`,
    price: { amount: 1000 + n * 37, currency: 'EUR' },
    related: [] as unknown[],
    summary: '',
  };
  const related = page.related;
  // Related products until the page is nearly full; the summary pads it to the exact size.
  while (JSON.stringify(page).length < LARGE_BODY_BYTES - 600) {
    const k = Math.floor(next() * 100_000);
    related.push({
      id: String(k),
      sku: `SKU-${String(k).padStart(6, '0')}`,
      name: sentence(next, 3),
      price: { amount: 500 + Math.floor(next() * 20_000), currency: 'EUR' },
      stock: Math.floor(next() * 500),
      rating: Math.round(next() * 50) / 10,
      tags: [sentence(next, 1), sentence(next, 1)],
      description: sentence(next, 8 + Math.floor(next() * 10)),
    });
  }
  const room = LARGE_BODY_BYTES - JSON.stringify(page).length;
  let summary = '';
  while (summary.length < room) summary += `${sentence(next, 1)} `;
  page.summary = summary.slice(0, room);
  const json = JSON.stringify(page);
  if (Buffer.byteLength(json) !== LARGE_BODY_BYTES) {
    throw new Error(`large item ${id}: body is ${Buffer.byteLength(json)} bytes, expected ${LARGE_BODY_BYTES}`);
  }
  return json;
}
