/**
 * The example shop's invalidation map in tags, as data: which tags a catalog
 * change clears (exactly the entries showing what it changed), the admin
 * token comparison and the CSV reader of the bulk import.
 */
import { expect } from 'chai';
import { courses, events, products } from '../../example-app/src/catalog';
import { csvRecords, parseCsv } from '../../example-app/src/csv';
import { catalogChangeTags, invalidateOptions, invalidationMap } from '../../example-app/src/invalidation-map';
import { tokenMatches } from '../../example-app/src/routes/admin';

describe('example app: the invalidation map in tags', () => {
  it("an edit of a field the users' lists show clears the item, its summary, and the lists its row is in", () => {
    const tags = catalogChangeTags({ spec: courses, kind: 'update', id: 5, columns: ['title'], row: { is_published: true } });
    expect(tags).to.have.members(['course:5', 'course:5:summary', 'courses:all', 'courses:published']);
  });

  it('an edit of a detail-only field clears the item alone', () => {
    expect(
      catalogChangeTags({ spec: courses, kind: 'update', id: 5, columns: ['description'], row: { is_published: true } }),
    ).to.deep.equal(['course:5']);
  });

  it('an unpublished row stays out of the published lists unless is_published itself changes (then the count too)', () => {
    expect(catalogChangeTags({ spec: courses, kind: 'update', id: 9, columns: ['price'], row: { is_published: false } })).to.have.members([
      'course:9',
      'courses:all',
    ]);
    expect(
      catalogChangeTags({ spec: courses, kind: 'update', id: 9, columns: ['is_published'], row: { is_published: false } }),
    ).to.have.members(['course:9', 'courses:all', 'courses:published', 'courses:count']);
  });

  it("a product's type list, and every type list when the type itself changes (the old one is not known)", () => {
    expect(
      catalogChangeTags({ spec: products, kind: 'update', id: 3, columns: ['price'], row: { is_published: true, type: 'pdf' } }),
    ).to.have.members(['product:3', 'products:all', 'products:published', 'products:type:pdf']);
    const moved = catalogChangeTags({ spec: products, kind: 'update', id: 3, columns: ['type'], row: { is_published: true, type: 'pdf' } });
    expect(moved).to.include.members([
      'product:3:summary',
      ...['pdf', 'video', 'audio', 'ebook', 'bundle'].map((type) => `products:type:${type}`),
    ]);
  });

  it('an event is in the upcoming list when it is after now, or when its date moved', () => {
    const future = new Date(Date.now() + 86_400_000);
    const past = new Date(Date.now() - 86_400_000);
    expect(
      catalogChangeTags({ spec: events, kind: 'update', id: 2, columns: ['price'], row: { is_published: true, event_date: future } }),
    ).to.include('events:upcoming');
    expect(
      catalogChangeTags({ spec: events, kind: 'update', id: 2, columns: ['price'], row: { is_published: true, event_date: past } }),
    ).to.not.include('events:upcoming');
    expect(
      catalogChangeTags({ spec: events, kind: 'update', id: 2, columns: ['event_date'], row: { is_published: true, event_date: past } }),
    ).to.include('events:upcoming');
  });

  it('a soft delete clears what the item appeared in; a create only the lists and the count', () => {
    expect(catalogChangeTags({ spec: courses, kind: 'delete', id: 7, columns: [], row: { is_published: true } })).to.have.members([
      'course:7',
      'course:7:summary',
      'course:7:enrollments',
      'courses:all',
      'courses:published',
      'courses:count',
    ]);
    expect(catalogChangeTags({ spec: courses, kind: 'create', id: 501, columns: [], row: { is_published: false } })).to.have.members([
      'courses:all',
      'courses:count',
    ]);
  });

  it("a strategy picks the row's tags (and namespaces) or the namespace-only map of before", () => {
    const row = invalidationMap['POST /admin/courses/import'];
    expect(Object.keys(invalidateOptions(row, 'tags'))).to.have.members(['tags', 'namespaces']);
    expect(invalidateOptions(row, 'namespaces')).to.deep.equal({ namespaces: row.before });
    expect(Object.keys(invalidateOptions(invalidationMap['PUT /courses/:id'], 'tags'))).to.deep.equal(['tags']);
  });
});

describe('example app: admin token and CSV import reader', () => {
  it('compares tokens whatever their lengths', () => {
    expect(tokenMatches('secret-token', 'secret-token')).to.equal(true);
    expect(tokenMatches('secret-tokem', 'secret-token')).to.equal(false);
    expect(tokenMatches('s', 'secret-token')).to.equal(false);
    expect(tokenMatches('', 'secret-token')).to.equal(false);
  });

  it('reads quoted fields, doubled quotes, CRLF and a trailing newline', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n1,\n')).to.deep.equal([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['1', ''],
    ]);
    expect(csvRecords('title,slug\nA,a\n').records).to.deep.equal([{ title: 'A', slug: 'a' }]);
    expect(() => csvRecords('title,slug\nA\n')).to.throw(RangeError, /line 2 has 1 fields/);
    expect(() => parseCsv('"open')).to.throw(SyntaxError);
  });
});
