/**
 * The cache type the shop passes around, named once from the package's
 * `createCache` so the shop follows whatever the package declares.
 */
import type { createCache } from 'express-cache-aside';

/** The cache returned by `createCache`. */
export type ShopCache = ReturnType<typeof createCache>;
