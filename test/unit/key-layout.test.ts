/** The tests' statement of the Redis key layout agrees with the package's, and takes keys apart. */
import { expect } from 'chai';
import { encodeKey, namespaceKeys } from '../../src/keys';
import { keyLayout } from '../helpers/key-layout';

describe('key-layout (test helper)', function () {
  const layout = keyLayout('eca-test-ab12');

  it('builds the names src/keys.ts builds for plain namespaces and keys', function () {
    for (const [namespace, key] of [
      ['pages', 'home'],
      ['user_1', 'a.b-c'],
      ['x', '42'],
    ] as const) {
      const keys = namespaceKeys('eca-test-ab12', namespace);
      expect(layout.generation(namespace)).to.equal(keys.generation);
      expect(layout.entry(namespace, key)).to.equal(keys.entryPrefix + encodeKey(key));
      expect(layout.lock(namespace, key)).to.equal(keys.lockPrefix + encodeKey(key));
      expect(layout.refresh(namespace, key)).to.equal(keys.refreshPrefix + encodeKey(key));
    }
    expect(layout.entry('pages', 'home')).to.equal('eca-test-ab12:{pages}:e:home');
  });

  it('refuses names the package would encode, rather than guess their encoding', function () {
    expect(() => layout.generation('user:1')).to.throw(TypeError, /namespace "user:1" is not plain/);
    expect(() => layout.entry('pages', '/a?b')).to.throw(TypeError, /key/);
  });

  it('takes keys apart, whatever their encoding, and rejects keys outside the layout', function () {
    expect(layout.parse('eca-test-ab12:{pages}:e:home')).to.deep.equal({
      namespace: 'pages',
      part: 'e',
      key: 'home',
      generationKey: 'eca-test-ab12:{pages}:g',
    });
    expect(layout.parse('eca-test-ab12:{user%3A1}:g')).to.deep.equal({
      namespace: 'user%3A1',
      part: 'g',
      key: '',
      generationKey: 'eca-test-ab12:{user%3A1}:g',
    });
    expect(layout.parse('eca-test-ab12:{a}:l:%2Fx')?.part).to.equal('l');
    for (const other of ['eca-test-ab12:{a}:x:k', 'other:{a}:g', 'eca-test-ab12:{a}:e:{b}', 'eca-test-ab12:a:g']) {
      expect(layout.parse(other), other).to.equal(undefined);
    }
  });

  it('gives SCAN patterns that escape the prefix', function () {
    expect(keyLayout('p-1').entryPattern()).to.equal('p\\-1:*:e:*');
    expect(keyLayout('p').entryPattern('pages')).to.equal('p:{pages}:e:*');
    expect(keyLayout('p').allPattern()).to.equal('p:*');
  });
});
