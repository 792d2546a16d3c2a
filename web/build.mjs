// Builds the console into ../console/dist: one bundled, hashed script and
// stylesheet, index.html naming them, the country borders and Leaflet's
// images. Everything the page needs is served by the binary itself.
import * as esbuild from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', 'console', 'dist');

// Keep the committed placeholder; drop the outputs of earlier builds.
mkdirSync(out, { recursive: true });
for (const f of readdirSync(out)) {
  if (f !== 'README') rmSync(join(out, f), { recursive: true, force: true });
}

const result = await esbuild.build({
  entryPoints: { app: join(here, 'src', 'main.js'), style: join(here, 'src', 'style.css') },
  bundle: true,
  minify: true,
  sourcemap: false,
  format: 'esm',
  target: ['es2020'],
  outdir: out,
  entryNames: '[name]-[hash]',
  assetNames: 'images/[name]-[hash]',
  loader: { '.png': 'file', '.svg': 'file' },
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
});

const names = {};
for (const [file, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint) names[basename(meta.entryPoint)] = basename(file);
}

// The borders: Natural Earth 1:50m admin-0 countries, as TopoJSON.
const borders = readFileSync(join(here, 'node_modules', 'world-atlas', 'countries-50m.json'));
const bordersName = `countries-${createHash('sha256').update(borders).digest('hex').slice(0, 10)}.json`;
writeFileSync(join(out, bordersName), borders);
copyFileSync(join(here, 'node_modules', 'world-atlas', 'LICENSE'), join(out, 'world-atlas.LICENSE.txt'));

const html = readFileSync(join(here, 'src', 'index.html'), 'utf8')
  .replaceAll('{{app.js}}', names['main.js'])
  .replaceAll('{{style.css}}', names['style.css'])
  .replaceAll('{{countries.json}}', bordersName);
writeFileSync(join(out, 'index.html'), html);
console.log(`console built into ${out}: ${names['main.js']}, ${names['style.css']}, ${bordersName}`);
