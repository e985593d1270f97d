// What `npm start` runs first: the web client (Vite) and the server (esbuild: one ES module, dist/server.js,
// packages left in node_modules), each only when its sources changed since it was built (a hash of them is
// kept beside the output), so a start on an unchanged checkout builds nothing. `--force` builds both.
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const force = process.argv.includes('--force');

/** A hash of these files and folders' files (their paths and contents). */
async function digest(inputs) {
  const hash = createHash('sha256');
  for (const input of inputs) {
    const path = join(ROOT, input);
    const entries = await readdir(path, { recursive: true, withFileTypes: true }).catch(() => null);
    const files = entries
      ? entries
          .filter((e) => e.isFile())
          .map((e) => join(e.parentPath ?? e.path, e.name))
          .sort()
      : [path];
    for (const file of files) hash.update(`${file.slice(ROOT.length)}\n`).update(await readFile(file));
  }
  return hash.digest('hex');
}

const targets = [
  {
    name: 'web client',
    inputs: ['web', 'package-lock.json'],
    stamp: 'dist/web/.inputs',
    build: async () => (await import('vite')).build({ configFile: join(ROOT, 'web/vite.config.ts'), logLevel: 'warn' }),
  },
  {
    name: 'server',
    inputs: ['server', 'data', 'package-lock.json'],
    stamp: 'dist/server.inputs',
    build: async () =>
      (await import('esbuild')).build({
        entryPoints: [join(ROOT, 'server/main.ts')],
        outfile: join(ROOT, 'dist/server.js'),
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        packages: 'external',
        sourcemap: true,
        logLevel: 'warning',
      }),
  },
];

for (const target of targets) {
  const hash = await digest(target.inputs);
  const built = await readFile(join(ROOT, target.stamp), 'utf8').catch(() => '');
  if (!force && built === hash) continue;
  const started = Date.now();
  await target.build();
  await writeFile(join(ROOT, target.stamp), hash);
  console.log(`built the ${target.name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
