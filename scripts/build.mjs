// Builds dist/: CommonJS with declarations from tsc, and a thin ES module
// wrapper over it, so `require` and `import` share one instance (no dual-package hazard).
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

rmSync('dist', { recursive: true, force: true });
execFileSync(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});
writeFileSync('dist/cjs/package.json', '{ "type": "commonjs" }\n');
mkdirSync('dist/esm', { recursive: true });
// The ES module names exactly what the CommonJS build exports, read from it rather than listed by hand.
const names = Object.keys(createRequire(import.meta.url)('../dist/cjs/index.js'))
  .filter((name) => name !== '__esModule')
  .sort();
writeFileSync('dist/esm/index.mjs', `import cjs from '../cjs/index.js';\nexport const { ${names.join(', ')} } = cjs;\n`);
writeFileSync('dist/esm/index.d.mts', "export * from '../cjs/index.js';\n");
console.log('built dist/cjs and dist/esm');
