#!/usr/bin/env node
// Rewrites the export lists of the six processor family modules (ts/processors/<type>.ts) and the
// step-name enum of schema/pipeline.schema.json from the native processor table, the single source
// of processor names (crates/kernels/src/dispatch.rs `processor_table`). Run after adding an
// operation: `npm run build:native && node scripts/families.mjs`. __test__/set.spec.ts fails when
// a file is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const addon = require(process.env.STACKBRIDGE_NATIVE_PATH ?? `${ROOT}native/stackbridge.linux-x64-gnu.node`);

/** The family members: the table's names, with the projection shorthands after createProjection. */
export function memberNames(table) {
  return table.flatMap((e) => (e.name === 'createProjection' ? [e.name, 'maxProjection', 'meanProjection'] : [e.name]));
}

const names = memberNames(addon.processorTable());
const check = process.argv.includes('--check');
let stale = [];
for (const type of ['numpy', 'cupy', 'torch', 'tensorflow', 'jax', 'pyclesperanto']) {
  const path = `${ROOT}ts/processors/${type}.ts`;
  const text = readFileSync(path, 'utf8');
  const block = `export const {\n${names.map((n) => `  ${n},\n`).join('')}} = makeFamily('${type}');`;
  const next = text.replace(/export const \{\n[\s\S]*?\n\} = makeFamily\('[a-z]+'\);/, block);
  if (next !== text) stale.push(path);
  if (!check) writeFileSync(path, next);
}
const schemaPath = `${ROOT}schema/pipeline.schema.json`;
const schemaText = readFileSync(schemaPath, 'utf8');
const table = addon.processorTable();
// Pipeline steps take the stack alone: processors that need another array cannot be steps.
const wanted = [...names.filter((n) => n !== 'createComposite' && !table.find((e) => e.name === n)?.arrays.some((a) => !a.endsWith('?'))), 'countCellsSingleChannel'];
const nextSchema = schemaText.replace(/("name": \{\s*"type": "string",\s*"enum": )\[[^\]]*\]/, (_m, head) => `${head}[${wanted.map((n) => JSON.stringify(n)).join(', ')}]`);
if (nextSchema !== schemaText) {
  stale.push(schemaPath);
  if (!check) writeFileSync(schemaPath, nextSchema);
}
if (check && stale.length > 0) {
  console.error(`out of date (run node scripts/families.mjs): ${stale.join(', ')}`);
  process.exit(1);
}
console.log(check ? 'families and schema are up to date' : `wrote ${stale.length} file(s): ${names.length} processors`);
