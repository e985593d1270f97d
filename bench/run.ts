// npm run bench -- <name> [options]: runs one benchmark from bench/ and prints its figures beside its floor.
const benchmarks: Record<string, () => Promise<{ run: (args: string[]) => Promise<void> }>> = {
  coverage: () => import('./coverage.ts'),
  'coverage-view': () => import('./coverage-view.ts'),
  'demo-load': () => import('./demo-load.ts'),
  'grid-tiles': () => import('./grid-tiles.ts'),
  import: () => import('./import.ts'),
  'import-shapefile': () => import('./import-shapefile.ts'),
  list: () => import('./list.ts'),
  nearest: () => import('./nearest.ts'),
  ogc: () => import('./ogc.ts'),
  reliability: () => import('./reliability.ts'),
  redraw: () => import('./redraw.ts'),
  suggest: () => import('./planning.ts'),
  walls: () => import('./walls.ts'),
};

const [name, ...args] = process.argv.slice(2);
if (!name || !benchmarks[name]) {
  console.error(`usage: npm run bench -- <${Object.keys(benchmarks).join('|')}> [options]`);
  process.exit(2);
}
await (await benchmarks[name]()).run(args);
export {};
