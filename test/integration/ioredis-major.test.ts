/**
 * Which ioredis major this run talks to: the lockfile's (6) in the main run,
 * the other one (5, the `ioredis5` alias) when `npm run test:ioredis-other`
 * sets IOREDIS_ALIAS. Without this check a broken alias hook would silently
 * run the other-major tests on the same major twice.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import { sharedRedisUrl } from '../helpers/shared-redis';

const ROOT = path.resolve(__dirname, '../..');

/** The major version of an installed package.json's `version`. */
function majorOf(file: string): number {
  return Number((JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version.split('.')[0]);
}

describe('ioredis major under test', function () {
  const alias = process.env.IOREDIS_ALIAS;
  const expected = alias ? majorOf(path.join(ROOT, 'node_modules', alias, 'package.json')) : 6;

  it(`require('ioredis') is ioredis ${expected} (IOREDIS_ALIAS=${alias ?? ''}), and the peer range admits it`, async function () {
    const seen = majorOf(require.resolve('ioredis/package.json'));
    expect(seen).to.equal(expected);
    if (alias) expect(seen, 'the alias is the other major').to.not.equal(majorOf(path.join(ROOT, 'node_modules/ioredis/package.json')));
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { peerDependencies: Record<string, string> };
    expect(manifest.peerDependencies.ioredis).to.include(`^${seen}.0.0`);
    const client = new Redis(sharedRedisUrl);
    try {
      expect(await client.ping()).to.equal('PONG');
    } finally {
      client.disconnect();
    }
  });
});
