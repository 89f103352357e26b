'use strict';
// One mocha config for the whole suite: TypeScript through tsx, a root hook
// file that restores sinon and fails on unhandled rejections.
module.exports = {
  require: ['tsx/cjs', './test/helpers/root-hooks.ts'],
  extension: ['ts'],
  timeout: 20000,
  exit: true,
  reporter: 'spec',
};
