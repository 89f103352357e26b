// The oracle of the shop benchmark: a cache that clears exactly the entries a
// write changed. It replays the request sequence against a model of which
// rows each cached entry shows (details show their row, lists the list
// columns of their rows, users' lists their holdings' titles, holder counts
// their holdings), with each write's real outcome (its status in a measured
// run), and says which reads it would serve from cache. Nothing expires
// (the run is shorter than every TTL), so its misses are first reads, reads
// after a real change, and 404s (never stored).

import { CATALOGS, type CatalogName, type ReadKind, type ShopRequest, type ShopSnapshot, type SnapshotItem } from './shop-workload';

/** What the oracle made of the sequence. */
export interface OracleOutcome {
  /** Per request: 1 when the oracle serves this read from cache (read before, unchanged since). */
  hit: Uint8Array;
  reads: number;
  hits: number;
  /** Misses on an entry's first read. */
  coldMisses: number;
  /** Misses on an entry a write changed since it was last read. */
  changedMisses: number;
  /** Reads answered 404 (an item deleted during the run): never stored. */
  uncacheable: number;
  /** Misses per read class (404s apart): what costs SQL. */
  missesByKind: Record<ReadKind, number>;
}

/** Writes' answers in the run the oracle follows (by request index; reads are ignored). */
export type WriteStatuses = ArrayLike<number>;

function filteredLists(catalog: CatalogName, item: SnapshotItem): string[] {
  if (!item.published) return [];
  if (catalog === 'courses') return ['/courses/published'];
  if (catalog === 'products') return ['/products/published', `/products/type/${item.type}`];
  return ['/events/published', ...(item.upcoming ? ['/events/upcoming'] : [])];
}

/** Replays `sequence` with the writes' statuses; `warm` are the paths the shop warms at startup. */
export function runOracle(
  snapshot: ShopSnapshot,
  sequence: readonly ShopRequest[],
  statuses: WriteStatuses,
  warm: readonly string[],
): OracleOutcome {
  const items = new Map<string, SnapshotItem>();
  const holders = {} as Record<CatalogName, Map<number, Set<number>>>;
  for (const catalog of Object.keys(CATALOGS) as CatalogName[]) {
    for (const item of snapshot.items[catalog]) items.set(`${catalog}:${item.id}`, { ...item });
    holders[catalog] = new Map([...snapshot.holders[catalog]].map(([id, users]) => [id, new Set(users)]));
  }
  const cached = new Set<string>(warm);
  const everRead = new Set<string>(warm);
  const outcome: OracleOutcome = {
    hit: new Uint8Array(sequence.length),
    reads: 0,
    hits: 0,
    coldMisses: 0,
    changedMisses: 0,
    uncacheable: 0,
    missesByKind: { detail: 0, slug: 0, list: 0, count: 0, holders: 0, 'user-list': 0 },
  };

  sequence.forEach((request, index) => {
    if (request.read) {
      outcome.reads += 1;
      const gone = request.item !== undefined && items.get(`${request.item.catalog}:${request.item.id}`)?.deleted === true;
      if (gone) {
        outcome.uncacheable += 1;
      } else if (cached.has(request.path)) {
        outcome.hits += 1;
        outcome.hit[index] = 1;
      } else {
        if (everRead.has(request.path)) outcome.changedMisses += 1;
        else outcome.coldMisses += 1;
        outcome.missesByKind[request.read] += 1;
        cached.add(request.path);
      }
      everRead.add(request.path);
      return;
    }
    const status = statuses[index] ?? 0;
    if (request.write === undefined || status < 200 || status >= 300) return;
    for (const path of changedBy(request.write)) cached.delete(path);
  });
  return outcome;

  function holderLists(catalog: CatalogName, id: number): string[] {
    return [...(holders[catalog].get(id) ?? [])].map((userId) => `/users/${userId}/${CATALOGS[catalog].held}`);
  }

  /** The entries whose answer a successful write changed, and the model updated to after it. */
  function changedBy(write: NonNullable<ShopRequest['write']>): string[] {
    const { catalog } = write;
    const held = CATALOGS[catalog].held;
    switch (write.type) {
      case 'update': {
        const item = items.get(`${catalog}:${write.id}`)!;
        // Every edit moves updated_at, which the details show; lists show title and price, users' lists the title.
        const paths = [`/${catalog}/${write.id}`, `/${catalog}/slug/${item.slug}`];
        if (write.field !== 'description') paths.push(`/${catalog}`, ...filteredLists(catalog, item));
        if (write.field === 'title') paths.push(...holderLists(catalog, write.id));
        return paths;
      }
      case 'delete': {
        const item = items.get(`${catalog}:${write.id}`)!;
        item.deleted = true;
        return [
          `/${catalog}/${write.id}`,
          `/${catalog}/slug/${item.slug}`,
          `/${catalog}/${write.id}/${held}/count`,
          `/${catalog}`,
          `/${catalog}/count`,
          ...filteredLists(catalog, item),
          ...holderLists(catalog, write.id),
        ];
      }
      case 'create': {
        const item: SnapshotItem = { id: -1, slug: '', published: true, deleted: false, type: write.productType, upcoming: write.upcoming };
        return [`/${catalog}`, `/${catalog}/count`, ...filteredLists(catalog, item)];
      }
      case 'hold': {
        const users = holders[catalog].get(write.itemId) ?? new Set<number>();
        users.add(write.userId);
        holders[catalog].set(write.itemId, users);
        return [`/users/${write.userId}/${held}`, `/${catalog}/${write.itemId}/${held}/count`];
      }
    }
  }
}
