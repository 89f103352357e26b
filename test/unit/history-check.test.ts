/**
 * The read-your-writes checker of the consistency test (test/helpers/history.ts):
 * it must flag a read older than a write acknowledged before it began, and
 * only that (a read overlapping the write may see either version).
 */
import { expect } from 'chai';
import { checkReadYourWrites, type Op, type ReadOp } from '../helpers/history';

const write = (version: number, invokedAt: number, completedAt: number, ok = true): Op => ({
  kind: 'write',
  item: 1,
  version,
  instance: 0,
  invokedAt,
  completedAt,
  ok,
});
const read = (seen: number, invokedAt: number, completedAt: number): ReadOp => ({
  kind: 'read',
  path: '/courses/1',
  instance: 1,
  invokedAt,
  completedAt,
  status: 200,
  cache: 'HIT',
  observed: new Map([[1, seen]]),
});

describe('history check: read-your-writes across instances', function () {
  it('flags a read that began after v2 was acknowledged and saw v1', function () {
    const result = checkReadYourWrites([write(1, 0, 5), write(2, 10, 20), read(1, 21, 25)]);
    expect(result.violations).to.have.length(1);
    expect(result.violations[0]).to.include({ item: 1, observed: 1, required: 2 });
  });

  it('accepts either version for a read that overlaps the write, and a newer one after it', function () {
    const result = checkReadYourWrites([write(1, 0, 5), write(2, 10, 20), read(1, 15, 30), read(2, 12, 18), read(2, 21, 22)]);
    expect(result.violations).to.have.length(0);
    expect(result.reads).to.equal(3);
  });

  it('ignores failed writes, and reports a version nobody wrote as a phantom', function () {
    const result = checkReadYourWrites([write(1, 0, 5), write(2, 10, 20, false), read(1, 21, 25), read(3, 26, 27)]);
    expect(result.violations).to.have.length(0);
    expect(result.phantom).to.have.length(1);
  });
});
