// The "shop under a realistic load" workload: one request sequence computed
// from a seed (a seeded PRNG, Zipf-distributed choices) over the seeded shop's
// catalog, so every variant receives exactly the same requests in the same order.
// Reads: catalog details (by id and by slug), catalog lists, counts, per-item
// holder counts and users' lists; writes: catalog edits (update, create, soft
// delete) and enrollments, purchases and bookings.

/** The three catalogs and what their holdings are called. */
export const CATALOGS = {
  courses: { held: 'enrollments', column: 'course_id' },
  products: { held: 'purchases', column: 'product_id' },
  events: { held: 'bookings', column: 'event_id' },
} as const;

/** A catalog's name. */
export type CatalogName = keyof typeof CATALOGS;

/** One item of a catalog as the seed left it. */
export interface SnapshotItem {
  id: number;
  slug: string;
  published: boolean;
  deleted: boolean;
  /** Products only. */
  type?: string;
  /** Events only: dated after the snapshot was taken. */
  upcoming?: boolean;
}

/** The seeded shop, as the workload and the oracle need it. */
export interface ShopSnapshot {
  items: Record<CatalogName, SnapshotItem[]>;
  userCount: number;
  /** Per catalog: item id → users holding it. */
  holders: Record<CatalogName, Map<number, Set<number>>>;
}

/** Which fields an edit sets. */
export type EditField = 'title' | 'price' | 'description';

/** What a write does, in the model's terms. */
export type WriteEffect =
  | { type: 'update'; catalog: CatalogName; id: number; field: EditField }
  | { type: 'delete'; catalog: CatalogName; id: number }
  | { type: 'create'; catalog: CatalogName; published: true; productType?: string; upcoming?: boolean }
  | { type: 'hold'; catalog: CatalogName; userId: number; itemId: number };

/** The read classes, each one route shape. */
export type ReadKind = 'detail' | 'slug' | 'list' | 'count' | 'holders' | 'user-list';

/** One request of the sequence. */
export interface ShopRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: Record<string, unknown>;
  /** Reads: the route class. */
  read?: ReadKind;
  /** Reads of a catalog item: which one (the oracle maps slugs to ids with it). */
  item?: { catalog: CatalogName; id: number };
  write?: WriteEffect;
}

/** mulberry32: a small, fast, seeded PRNG (uniform in [0, 1)). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A sampler of Zipf(s) ranks over `values` (rank 1 = values[0]); the caller shuffles values first. */
export function zipf<T>(values: readonly T[], exponent: number, random: () => number): () => T {
  const cumulative = new Float64Array(values.length);
  let total = 0;
  for (let rank = 1; rank <= values.length; rank += 1) {
    total += 1 / rank ** exponent;
    cumulative[rank - 1] = total;
  }
  return () => {
    const target = random() * total;
    let low = 0;
    let high = values.length - 1;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((cumulative[middle] ?? Infinity) < target) low = middle + 1;
      else high = middle;
    }
    return values[low] as T;
  };
}

/** A seeded Fisher-Yates shuffle (a copy). */
function shuffled<T>(values: readonly T[], random: () => number): T[] {
  const copy = [...values];
  for (let i = copy.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

/** Picks one key of `weights` with probability proportional to its weight. */
function weighted<K extends string>(weights: Record<K, number>, random: () => number): K {
  const entries = Object.entries(weights) as Array<[K, number]>;
  const total = entries.reduce((sum, [, weight]) => sum + weight, 0);
  let target = random() * total;
  for (const [key, weight] of entries) {
    target -= weight;
    if (target < 0) return key;
  }
  return entries[entries.length - 1]![0];
}

/** The shape of the load. */
export interface WorkloadOptions {
  seed: number;
  requests: number;
  /** Share of requests that are catalog edits. */
  editShare: number;
  /** Share of requests that are enrollments, purchases and bookings. */
  holdShare: number;
  /** Zipf exponent of item and user popularity. */
  zipfExponent: number;
}

/** Shares of the reads by class. */
export const READ_MIX: Record<ReadKind, number> = { detail: 30, slug: 12, list: 5, count: 3, holders: 10, 'user-list': 40 };
const CATALOG_MIX: Record<CatalogName, number> = { courses: 50, products: 30, events: 20 };
const EDIT_MIX = { update: 80, create: 15, delete: 5 };
const FIELD_MIX: Record<EditField, number> = { title: 40, price: 30, description: 30 };
const PRODUCT_TYPES = ['pdf', 'video', 'audio', 'ebook', 'bundle'];

/** The catalog list routes. */
export const LIST_PATHS = [
  '/courses',
  '/courses/published',
  '/products',
  '/products/published',
  ...PRODUCT_TYPES.map((type) => `/products/type/${type}`),
  '/events',
  '/events/published',
  '/events/upcoming',
];
/** The catalog count routes. */
export const COUNT_PATHS = ['/courses/count', '/products/count', '/events/count'];

/** The request sequence: the same for the same snapshot and options. */
export function shopWorkload(snapshot: ShopSnapshot, options: WorkloadOptions): ShopRequest[] {
  const random = seededRandom(options.seed);
  const catalogNames = Object.keys(CATALOGS) as CatalogName[];
  const live = Object.fromEntries(catalogNames.map((name) => [name, snapshot.items[name].filter((item) => !item.deleted)])) as Record<
    CatalogName,
    SnapshotItem[]
  >;
  // Popularity: a seeded shuffle decides which items and users are hot, Zipf how hot.
  const popular = Object.fromEntries(
    catalogNames.map((name) => [name, zipf(shuffled(live[name], random), options.zipfExponent, random)]),
  ) as Record<CatalogName, () => SnapshotItem>;
  const holdable = Object.fromEntries(
    catalogNames.map((name) => [
      name,
      zipf(
        shuffled(
          live[name].filter((item) => item.published && item.upcoming !== false),
          random,
        ),
        options.zipfExponent,
        random,
      ),
    ]),
  ) as Record<CatalogName, () => SnapshotItem>;
  const userIds = Array.from({ length: snapshot.userCount }, (_, i) => i + 1);
  const user = zipf(shuffled(userIds, random), options.zipfExponent, random);
  const holds = Object.fromEntries(catalogNames.map((name) => [name, new Set<string>()])) as Record<CatalogName, Set<string>>;
  for (const name of catalogNames)
    for (const [itemId, users] of snapshot.holders[name]) for (const id of users) holds[name].add(`${id}:${itemId}`);
  const deleted = new Set<string>();

  const sequence: ShopRequest[] = [];
  for (let i = 0; i < options.requests; i += 1) {
    const roll = random();
    const catalog = weighted(CATALOG_MIX, random);
    if (roll < options.editShare) {
      sequence.push(edit(catalog, i));
      continue;
    }
    if (roll < options.editShare + options.holdShare) {
      sequence.push(hold(catalog));
      continue;
    }
    sequence.push(read(catalog));
  }
  return sequence;

  function read(catalog: CatalogName): ShopRequest {
    const kind = weighted(READ_MIX, random);
    const item = popular[catalog]();
    switch (kind) {
      case 'detail':
        return { method: 'GET', path: `/${catalog}/${item.id}`, read: kind, item: { catalog, id: item.id } };
      case 'slug':
        return { method: 'GET', path: `/${catalog}/slug/${item.slug}`, read: kind, item: { catalog, id: item.id } };
      case 'holders':
        return {
          method: 'GET',
          path: `/${catalog}/${item.id}/${CATALOGS[catalog].held}/count`,
          read: kind,
          item: { catalog, id: item.id },
        };
      case 'list':
        return { method: 'GET', path: LIST_PATHS[Math.floor(random() * LIST_PATHS.length)]!, read: kind };
      case 'count':
        return { method: 'GET', path: COUNT_PATHS[Math.floor(random() * COUNT_PATHS.length)]!, read: kind };
      case 'user-list':
        return { method: 'GET', path: `/users/${user()}/${CATALOGS[catalog].held}`, read: kind };
    }
  }

  function edit(catalog: CatalogName, index: number): ShopRequest {
    const type = weighted(EDIT_MIX, random);
    if (type === 'create') return create(catalog, index);
    // Admins edit any item, not the popular ones: uniform over the live rows.
    let item = live[catalog][Math.floor(random() * live[catalog].length)]!;
    for (let attempt = 0; attempt < 5 && deleted.has(`${catalog}:${item.id}`); attempt += 1) {
      item = live[catalog][Math.floor(random() * live[catalog].length)]!;
    }
    if (type === 'delete') {
      deleted.add(`${catalog}:${item.id}`);
      return { method: 'DELETE', path: `/${catalog}/${item.id}`, write: { type: 'delete', catalog, id: item.id } };
    }
    const field = weighted(FIELD_MIX, random);
    const value =
      field === 'title'
        ? `Edited ${catalog} ${item.id} #${index}`
        : field === 'price'
          ? (index % 200) + 0.99
          : `Revised description #${index}.`;
    return {
      method: 'PUT',
      path: `/${catalog}/${item.id}`,
      body: { [field]: value },
      write: { type: 'update', catalog, id: item.id, field },
    };
  }

  function create(catalog: CatalogName, index: number): ShopRequest {
    const common = { title: `New ${catalog} ${index}`, slug: `bench-${catalog}-${index}`, price: 25, is_published: true };
    if (catalog === 'courses') {
      return {
        method: 'POST',
        path: '/courses',
        body: { ...common, duration_hours: 3, level: 'beginner' },
        write: { type: 'create', catalog, published: true },
      };
    }
    if (catalog === 'products') {
      const productType = PRODUCT_TYPES[index % PRODUCT_TYPES.length]!;
      return {
        method: 'POST',
        path: '/products',
        body: { ...common, type: productType },
        write: { type: 'create', catalog, published: true, productType },
      };
    }
    const eventDate = new Date(Date.UTC(2100, 0, 1) + index * 3_600_000).toISOString();
    return {
      method: 'POST',
      path: '/events',
      body: { ...common, event_date: eventDate, venue: 'Online', capacity: 100 },
      write: { type: 'create', catalog, published: true, upcoming: true },
    };
  }

  function hold(catalog: CatalogName): ShopRequest {
    const userId = user();
    let item = holdable[catalog]();
    // Popular users already hold the popular items; look a little further rather than send a sure 409.
    for (let attempt = 0; attempt < 8 && holds[catalog].has(`${userId}:${item.id}`); attempt += 1) item = holdable[catalog]();
    holds[catalog].add(`${userId}:${item.id}`);
    const { held, column } = CATALOGS[catalog];
    return {
      method: 'POST',
      path: `/users/${userId}/${held}`,
      body: { [column]: item.id },
      write: { type: 'hold', catalog, userId, itemId: item.id },
    };
  }
}
