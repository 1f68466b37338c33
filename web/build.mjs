// build.mjs bundles src/ into dist/ (or the directory given as --outdir=DIR)
// with esbuild. The output must be a pure function of the sources and the
// locked dependencies: `make web-check` rebuilds into a temporary directory
// and fails when it differs from the committed dist/, which go:embed serves.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const arg = process.argv.find((a) => a.startsWith('--outdir='));
const outdir = arg ? arg.slice('--outdir='.length) : 'dist';

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });

await build({
  entryPoints: { app: 'src/main.js', style: 'src/style.css' },
  outdir,
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  legalComments: 'eof', // keep the licences of xterm.js and asciinema-player in the bundle
  charset: 'utf8',
  logLevel: 'warning',
});
copyFileSync('src/index.html', join(outdir, 'index.html'));
