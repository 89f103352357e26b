/** Key naming: injective encoding, hash tags, hashing of long keys. */
import { expect } from 'chai';
import { encodeKey, encodePart, MAX_ENCODED_KEY_LENGTH, namespaceKeys } from '../../src/keys';

describe('keys', function () {
  it('leaves no separator, hash-tag or glob character in an encoded part', function () {
    for (const raw of ['a:b', '{x}', '*', '?', '[a]', "it's (ok)!~", '\u00fc']) {
      expect(encodePart(raw)).to.match(/^[A-Za-z0-9%._-]+$/);
    }
  });

  it('is injective on tricky pairs', function () {
    const pairs: Array<[string, string]> = [
      ['a:b', 'a%3Ab'],
      ['%', '%25'],
      ['\ud800', '\ud801'],
      ['*', '%2A'],
    ];
    for (const [a, b] of pairs) expect(encodePart(a)).to.not.equal(encodePart(b));
  });

  it('puts every key of a namespace under one hash tag', function () {
    const keys = namespaceKeys('shop', 'user:{1}');
    const tags = [keys.generation, keys.entryPrefix, keys.lockPrefix, keys.refreshPrefix].map((k) =>
      k.slice(k.indexOf('{') + 1, k.indexOf('}')),
    );
    expect(new Set(tags).size).to.equal(1);
    expect(tags[0]).to.equal(encodePart('user:{1}'));
  });

  it('hashes keys past the bound, distinctly, into something that cannot be an encoded key', function () {
    const long = 'q'.repeat(MAX_ENCODED_KEY_LENGTH + 1);
    expect(encodeKey(long)).to.match(/^#[A-Za-z0-9_-]{43}$/);
    expect(encodeKey(long)).to.not.equal(encodeKey(`${long}x`));
    expect(encodeKey('short')).to.equal('short');
  });
});
