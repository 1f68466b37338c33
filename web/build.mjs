// build.mjs bundles src/ into dist/ (or the directory given as --outdir=DIR)
// with esbuild. The output must be a pure function of the sources and the
// locked dependencies: `make web-check` rebuilds into a temporary directory
// and fails when it differs from the committed dist/, which go:embed serves.
//
// The bundle is ES modules with code splitting: the recording player (the
// bulk of the bytes) is a chunk the page imports only when a recording is
// opened. File names carry a content hash, so the server can mark them
// immutable; index.html, rewritten here to name them, is the only file a
// browser revalidates.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const arg = process.argv.find((a) => a.startsWith('--outdir='));
const outdir = arg ? arg.slice('--outdir='.length) : 'dist';

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

const result = await build({
  entryPoints: { app: 'src/main.js', style: 'src/style.css' },
  outdir,
  bundle: true,
  minify: true,
  format: 'esm',
  splitting: true,
  entryNames: '[name]-[hash]',
  chunkNames: 'chunk-[hash]',
  metafile: true,
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof', // keep the licences of xterm.js and asciinema-player in the bundle
  charset: 'utf8',
  logLevel: 'warning',
});

const entry = {};
for (const [out, meta] of Object.entries(result.metafile.outputs)) {
  if (meta.entryPoint) entry[meta.entryPoint] = basename(out);
}
const app = entry['src/main.js'];
const style = entry['src/style.css'];
if (!app || !style) throw new Error(`entry outputs not found: ${JSON.stringify(entry)}`);

let index = readFileSync('src/index.html', 'utf8');
const before = index;
index = index.replace('<link rel="stylesheet" href="style.css">', `<link rel="stylesheet" href="${style}">`);
index = index.replace('<script defer src="app.js"></script>', `<script type="module" src="${app}"></script>`);
if (index === before || index.includes('"app.js"') || index.includes('"style.css"')) {
  throw new Error('index.html: the asset references were not rewritten');
}
writeFileSync(join(outdir, 'index.html'), index);
