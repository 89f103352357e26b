/**
 * Root hooks for every test file: sinon is restored after each test, and an
 * unhandled rejection anywhere fails the run instead of passing silently.
 */
import sinon from 'sinon';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => {
  unhandled.push(reason);
});

export const mochaHooks = {
  afterEach(this: Mocha.Context): void {
    sinon.restore();
    if (unhandled.length > 0) {
      const reasons = unhandled.splice(0, unhandled.length);
      throw new Error(`unhandled rejection during test: ${reasons.map(String).join('; ')}`);
    }
  },
};
