/**
 * Product routes: the generic catalog routes plus the published products of
 * one type (`/products/type/:type`).
 */
import type { Router } from 'express';
import { products, productTypes } from '../catalog';
import type { Db } from '../db';
import { tag, type InvalidationStrategy } from '../invalidation-map';
import type { ShopCache } from '../shop-cache';
import { parseEnum } from '../validation';
import { catalogRouter } from './catalog';

/** Router to mount at `/products`. */
export function productsRouter(db: Db, cache: ShopCache, strategy: InvalidationStrategy): Router {
  return catalogRouter(products, db, cache, strategy, [
    {
      path: '/type/:type',
      check: (req) => parseEnum(req, 'type', productTypes),
      key: (req) => `type:${req.params.type}`,
      tags: (req) => [tag.productType(parseEnum(req, 'type', productTypes))],
      ttlSeconds: products.ttlSeconds,
      handler: async (req, res) => {
        const { rows } = await db.query(
          `SELECT ${products.listColumns} FROM products
            WHERE type = $1 AND is_published AND deleted_at IS NULL ORDER BY id`,
          [parseEnum(req, 'type', productTypes)],
        );
        res.json(rows);
      },
    },
  ]);
}
