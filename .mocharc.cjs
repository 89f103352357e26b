'use strict';
// One mocha config for the whole suite: TypeScript through tsx, a root hook
// file that restores sinon and fails on unhandled rejections, and the ioredis
// alias hook (inert unless IOREDIS_ALIAS is set: see test/helpers/ioredis-alias.ts).
module.exports = {
  require: ['tsx/cjs', './test/helpers/ioredis-alias.ts', './test/helpers/root-hooks.ts'],
  extension: ['ts'],
  timeout: 20000,
  exit: true,
  reporter: 'spec',
};
